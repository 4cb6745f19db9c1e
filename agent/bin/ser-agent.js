#!/usr/bin/env node
// Thin launcher: the compiled CLI lives in dist/ (built by `npm run build`, which `npm ci` runs).

// ONNX Runtime keeps a usage-telemetry store in ~/.cache/Microsoft unless told not to; nothing
// but emotions leaves or piles up on the device. Set before ONNX Runtime loads, hence the
// dynamic import below (the unit sets it too).
process.env.ORT_DISABLE_TELEMETRY ??= "1";
const { main } = await import("../dist/cli.js");

// A closed pipe (`... | head`) ends the output, not the program with a stack trace.
process.stdout.on("error", (err) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = await main(process.argv.slice(2));

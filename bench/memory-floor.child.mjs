// Child of bench/memory-floor.bench.ts: loads the agent's parts one after another in one
// process and prints the resident memory after each step as a JSON line. Plain JavaScript on
// the built agent, so no TypeScript loader weighs in.
import { readFileSync } from "node:fs";

const [modelPath, sileroWasmUrl, cliPath, engineUrl] = process.argv.slice(2);

function resident() {
  const status = readFileSync("/proc/self/status", "utf8");
  const kib = (key) => Number(new RegExp(`${key}:\\s+(\\d+) kB`).exec(status)?.[1] ?? Number.NaN);
  return { rss_kib: kib("VmRSS"), anon_kib: kib("RssAnon"), file_kib: kib("RssFile") };
}

// A full garbage collection first (node --expose-gc): what the step holds, not its garbage.
const report = (step) => {
  globalThis.gc?.();
  process.stdout.write(`${JSON.stringify({ step, ...resident() })}\n`);
};
// The options of the agent's own sessions (agent/src/model/runner.ts, agent/src/vad/silero.ts).
const options = {
  intraOpNumThreads: 1,
  interOpNumThreads: 1,
  executionMode: "sequential",
  graphOptimizationLevel: "all",
  logSeverityLevel: 3,
};

report("Node.js, nothing loaded");
// The emotion model as the agent runs it by default (inference.runtime auto): its own engine.
const { WasmModelEngine } = await import(engineUrl);
const engine = WasmModelEngine.create(readFileSync(modelPath));
report("+ the emotion model on the agent's engine (WebAssembly)");
// Silero as the agent runs it by default: its own WebAssembly, weights read from the ONNX file.
const { SileroWasmVad } = await import(sileroWasmUrl);
const silero = new SileroWasmVad();
report("+ Silero in WebAssembly (vad.modelRuntime wasm)");
await import("mqtt");
report("+ import mqtt (MQTT.js)");
await import("convict");
report("+ import convict");
await import(cliPath);
report("+ the agent's own modules (ser-agent's command line, everything it imports at start)");
// What inference.runtime onnxruntime (or a model the engine does not run) adds on top.
const ort = await import("onnxruntime-node");
report("+ import onnxruntime-node (not loaded by default)");
await ort.InferenceSession.create(modelPath, options);
report("+ the emotion model's ONNX Runtime session (inference.runtime onnxruntime)");
silero.reset(); // alive until the last reading
void engine.memoryBytes;

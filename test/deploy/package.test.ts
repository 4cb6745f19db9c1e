// `npm run package` for real: both tarballs are built from this checkout (npm ci --omit=dev in a
// scratch copy, from npm's cache), unpacked into a temporary directory outside the repository,
// and the x64 agent in it must run with nothing else: `classify` on a shipped demo clip and
// `bench --quick --json`. Their contents are checked: the production dependencies only, native
// code for their own architecture only, no types or source maps; arm64 within 40 MiB.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { DeviceBench } from "../../agent/src/bench/device.js";
import { findNative, nativeTarget } from "../../deploy/package/native.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(join(REPO, "agent/package.json"), "utf8")) as { version: string }
).version;
const name = (arch: string) => `ser-agent-${VERSION}-linux-${arch}`;
const ORT_BIN = "node_modules/onnxruntime-node/bin/napi-v6";

const tmp = mkdtempSync(join(tmpdir(), "ser-package-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const out = join(tmp, "out");
const pkg = join(tmp, "unpacked", name("x64"));
const pkgArm = join(tmp, "unpacked", name("arm64"));

/** The package's own agent, run from a directory outside the repository, with no SER_* setting. */
function serAgent(...args: string[]): string {
  return execFileSync(process.execPath, [join(pkg, "bin/ser-agent.js"), ...args], {
    cwd: tmp,
    env: { PATH: process.env.PATH, HOME: tmp },
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 60_000,
  });
}

function allFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
}

describe("npm run package", { timeout: 120_000 }, () => {
  before(() => {
    execFileSync(
      process.execPath,
      ["--import", "tsx", join(REPO, "deploy/package/package.ts"), "--out", out],
      { cwd: REPO, stdio: ["ignore", "pipe", "pipe"], timeout: 110_000 },
    );
    mkdirSync(join(tmp, "unpacked"));
    for (const arch of ["x64", "arm64"]) {
      const tarball = join(out, `${name(arch)}.tar.gz`);
      assert.ok(existsSync(tarball), `${tarball} was not written`);
      execFileSync("tar", ["xzf", tarball, "-C", join(tmp, "unpacked")]);
    }
  });

  it("unpacks to one directory holding the built agent, its dependencies, model and notices", () => {
    assert.deepEqual(readdirSync(join(tmp, "unpacked")).sort(), [name("arm64"), name("x64")]);
    for (const f of [
      "bin/ser-agent.js",
      "dist/cli.js",
      "wasm/frames.wasm",
      "package.json",
      "node_modules/onnxruntime-node/package.json",
      "models/default/manifest.json",
      "models/default/model.onnx",
      "demo/README.md",
      "README.md",
      "THIRD-PARTY-NOTICES.txt",
    ]) {
      assert.ok(existsSync(join(pkg, f)), `${f} missing from the package`);
    }
    assert.ok(
      statSync(join(pkg, "bin/ser-agent.js")).mode & 0o100,
      "bin/ser-agent.js not executable",
    );
    for (const f of ["ser-agent.service", "install.sh"]) {
      assert.equal(existsSync(join(pkg, "deploy", f)), existsSync(join(REPO, "deploy", f)), f);
    }
  });

  it("holds the production dependencies only, without types, source maps or sources", () => {
    for (const dev of [
      "typescript",
      "tsx",
      "assemblyscript",
      "@biomejs",
      "fft.js",
      "@tensorflow",
      "@ser-edge",
    ]) {
      assert.ok(!existsSync(join(pkg, "node_modules", dev)), `${dev} is in the package`);
    }
    const junk = allFiles(pkg).filter((f) => /\.([cm]?tsx?|map)$/.test(f));
    assert.deepEqual(
      junk.slice(0, 5),
      [],
      "TypeScript sources, declarations or source maps shipped",
    );
    assert.ok(!existsSync(join(pkg, "src")));
    const shipped = readFileSync(join(pkg, "package.json"), "utf8");
    assert.doesNotMatch(shipped, /"(source|types)":/, "package.json points at files not shipped");
  });

  it("holds ONNX Runtime for linux-x64 and no native code for any other platform", () => {
    assert.deepEqual(readdirSync(join(pkg, ORT_BIN)), ["linux"]);
    assert.deepEqual(readdirSync(join(pkg, ORT_BIN, "linux")), ["x64"]);
    const native = findNative(pkg);
    assert.ok(native.some((n) => n.path.endsWith("linux/x64/libonnxruntime.so.1")));
    assert.deepEqual(
      native.filter((n) => n.target !== "linux-x64"),
      [],
      "foreign native binaries in the linux-x64 package",
    );
  });

  it("arm64: ONNX Runtime for linux-arm64 only, nothing x86, within the 40 MiB target", () => {
    assert.deepEqual(readdirSync(join(pkgArm, ORT_BIN)), ["linux"]);
    assert.deepEqual(readdirSync(join(pkgArm, ORT_BIN, "linux")), ["arm64"]);
    const native = findNative(pkgArm);
    assert.ok(native.some((n) => n.path.endsWith("linux/arm64/libonnxruntime.so.1")));
    assert.deepEqual(
      native.filter((n) => n.target !== "linux-arm64"),
      [],
    );
    const size = statSync(join(out, `${name("arm64")}.tar.gz`)).size;
    assert.ok(size <= 40 * 1024 * 1024, `arm64 tarball ${size} B`);
  });

  it("tells native binaries apart by their content (the repository's ONNX Runtime for every platform)", () => {
    const head = (p: string) =>
      readFileSync(join(REPO, "node_modules/onnxruntime-node/bin/napi-v6", p)).subarray(0, 20);
    assert.equal(nativeTarget(head("linux/arm64/onnxruntime_binding.node")), "linux-arm64");
    assert.equal(nativeTarget(head("linux/x64/onnxruntime_binding.node")), "linux-x64");
    assert.equal(nativeTarget(head("darwin/arm64/onnxruntime_binding.node")), "darwin");
    assert.equal(nativeTarget(head("win32/x64/onnxruntime_binding.node")), "win32");
    assert.equal(nativeTarget(readFileSync(join(REPO, "package.json")).subarray(0, 20)), undefined);
  });

  it("classifies a demo clip with its bundled model, from outside the repository", () => {
    const lines = serAgent("classify", join(pkg, "demo/03-01-05-02-02-01-19.flac"))
      .trim()
      .split("\n");
    assert.equal(lines.length, 1);
    const r = JSON.parse(lines[0]) as {
      label: string;
      confidence: number;
      scores: Record<string, number>;
    };
    assert.equal(r.label, "angry", lines[0]);
    const scores = Object.values(r.scores);
    assert.equal(scores.length, 8);
    assert.ok(Math.abs(scores.reduce((a, b) => a + b, 0) - 1) < 1e-2, "scores do not sum to 1");
    assert.equal(r.confidence, Math.max(...scores));
  });

  it("runs `ser-agent bench --quick --json` with its own demo clips: plausible figures", () => {
    const b = JSON.parse(serAgent("bench", "--quick", "--json")) as DeviceBench;
    assert.equal(b.model.dir, join(pkg, "models/default"));
    assert.equal(b.host.arch, "x64");
    for (const [name, x] of [
      ["silence cpu", b.silence.cpu_ms_per_audio_s],
      ["speech cpu", b.speech.cpu_ms_per_audio_s],
      ["speech %", b.speech.cpu_percent_of_core],
      ["p50", b.inference.p50_ms],
      ["p95", b.inference.p95_ms],
      ["rss", b.rss_mb.peak],
    ] as const) {
      assert.ok(Number.isFinite(x) && x > 0, `${name} = ${x}`);
    }
    assert.equal(b.silence.audio_s, 10);
    assert.equal(b.silence.events, 0, "-70 dBFS noise must not be heard as speech");
    assert.ok(b.speech.events >= 1, "continuous speech gave no event");
    assert.ok(
      b.speech.cpu_ms_per_audio_s > b.silence.cpu_ms_per_audio_s,
      "speech cheaper than silence",
    );
    // % of one core is ms per audio-second / 10; both are rounded to 3 decimals separately.
    assert.ok(
      Math.abs(b.speech.cpu_percent_of_core - b.speech.cpu_ms_per_audio_s / 10) <= 0.0011,
      `${b.speech.cpu_percent_of_core}% vs ${b.speech.cpu_ms_per_audio_s} ms per audio-s`,
    );
    assert.ok(b.inference.p95_ms >= b.inference.p50_ms);
    assert.ok(b.inference.runs === 20 && b.inference.utterance_s_mean > 1);
    assert.ok(b.rss_mb.peak > 30 && b.rss_mb.peak < 2048, `rss ${b.rss_mb.peak} MiB`);
  });
});

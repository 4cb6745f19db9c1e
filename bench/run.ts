// npm run bench: our figures and librosa's, measured side by side on this machine, as Markdown
// rows for BENCHMARKS.md. Not a test: it asserts nothing, it measures.
import { cpus } from "node:os";
import * as ort from "onnxruntime-node";
import { benchAudio } from "./audio.bench.js";
import { benchFeatures } from "./features.bench.js";
import { benchMemoryFloor, memoryFloorMarkdown } from "./memory-floor.bench.js";
import { benchModel } from "./model.bench.js";
import { benchPeer } from "./peer.js";
import { benchRuntime, runtimeMarkdown } from "./runtime.bench.js";
import { benchVad, vadMarkdown } from "./vad.bench.js";

const f = await benchFeatures();
const a = await benchAudio();
const peer = await benchPeer();
const models = [await benchModel({ pooling: "stats" }), await benchModel({ pooling: "attentive" })];

const fmt = (x: number, d = 3) => x.toFixed(d);
console.log(`# ser-edge bench, ${new Date().toISOString()}`);
console.log(
  `machine: ${cpus()[0]?.model ?? "?"} x${cpus().length}, node ${process.version}, one thread`,
);
console.log(`clips: ${f.clips}, ${fmt(f.audio_seconds, 1)} s of 16 kHz audio\n`);
console.log("| measure | ser-edge | librosa 0.11 (same run) | speed-up |");
console.log("|---|---|---|---|");
const lib = typeof peer === "string" ? undefined : peer;
const row = (name: string, ours: number, theirs: number | undefined, unit: string) => {
  const t = theirs === undefined ? "n/a" : `${fmt(theirs)} ${unit}`;
  const r = theirs === undefined ? "n/a" : `${(theirs / ours).toFixed(2)}x`;
  console.log(`| ${name} | ${fmt(ours)} ${unit} | ${t} | ${r} |`);
};
row("MFCC-40, offline", f.offline_ms_per_audio_s, lib?.librosa_mfcc_ms_per_audio_s, "ms/audio-s");
row(
  "MFCC-40, streaming 10 ms chunks",
  f.streaming_10ms_ms_per_audio_s,
  lib?.librosa_mfcc_ms_per_audio_s,
  "ms/audio-s",
);
row(
  "MFCC-40, streaming 100 ms chunks",
  f.streaming_100ms_ms_per_audio_s,
  lib?.librosa_mfcc_ms_per_audio_s,
  "ms/audio-s",
);
row("pitch + voicing (mfcc+pitch models)", f.pitch_ms_per_audio_s, undefined, "ms/audio-s");
row("MFCC-40 + pitch, offline", f.mfcc_pitch_ms_per_audio_s, undefined, "ms/audio-s");
if (a.wav48k_read_decode_resample_ms !== undefined) {
  row(
    `48 kHz WAV (${fmt(a.wav48k_seconds, 2)} s) read+decode+resample to 16 kHz`,
    a.wav48k_read_decode_resample_ms,
    lib?.librosa_load_48k_ms,
    "ms",
  );
}
console.log(`\nextractor setup: ${fmt(f.setup_ms)} ms once per parameter set`);
for (const [k, v] of Object.entries(a)) console.log(`audio ${k}: ${fmt(v)}`);
if (typeof peer === "string") console.log(`\n${peer}`);

console.log(
  `\nModel inference, ONNX Runtime ${ort.env.versions.node ?? ""} CPU, one thread, a ${models[0].frames / 100} s utterance (${models[0].frames} frames), median of ${models[0].runs} runs:\n`,
);
console.log("| model | file | median | p90 | vs fp32 |");
console.log("|---|---|---|---|---|");
for (const m of models) {
  const fp32 = m.rows[0].median_ms;
  for (const r of m.rows) {
    console.log(
      `| ${r.model} | ${(r.bytes / 1024).toFixed(0)} KiB | ${fmt(r.median_ms)} ms | ${fmt(r.p90_ms)} ms | ${(fp32 / r.median_ms).toFixed(2)}x |`,
    );
  }
}

// Voice activity and the whole agent: these take a few minutes (`--quick` for a short pass).
const quick = process.argv.includes("--quick");
console.log(`\n${memoryFloorMarkdown(await benchMemoryFloor())}`);
console.log(`\n${vadMarkdown(await benchVad(quick ? { quick: true } : {}))}`);
console.log(
  `\n${runtimeMarkdown(
    await benchRuntime(
      quick ? { cpuSeconds: 30, realTimeSeconds: 10, latencyPasses: 1, memoryMinutes: 2 } : {},
    ),
  )}`,
);

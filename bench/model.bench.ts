// Model inference speed, one thread, for a 3-second utterance (300 frames): in ONNX Runtime, the
// default architecture exported fp32 and quantized int8 (uint8 and int8 activations), plus the
// shipped models/default bundle when it exists; and the int8 ones on the agent's own engine
// (agent/src/model/wasm-engine.ts, the default inference.runtime). Weights are seeded random (latency does not
// depend on their values); calibration uses real fixture features.
// Run alone: node --conditions=source --import tsx bench/model.bench.ts
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "@ser-edge/agent/audio";
import {
  applyStats,
  columnStats,
  extractFeatures,
  FeatureExtractor,
  representFrames,
} from "@ser-edge/agent/features";
import { type Manifest, WasmModelEngine } from "@ser-edge/agent/model";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-node";
import { buildModel, INPUT_NAME } from "../trainer/src/onnx/export.js";
import { encodeModel } from "../trainer/src/onnx/proto.js";
import { calibrate } from "../trainer/src/quantize/calibrate.js";
import { planQuantization } from "../trainer/src/quantize/plan.js";
import { quantizeQdq } from "../trainer/src/quantize/qdq.js";
import { initBackend } from "../trainer/src/train/backend.js";
import { ARCH_DEFAULTS, initParams, type ModelSpec } from "../trainer/src/train/models.js";
import { benchClips } from "./features.bench.js";

const FRAMES = 300;
const RUNS = 200;

export interface ModelBench {
  frames: number;
  runs: number;
  rows: { model: string; bytes: number; median_ms: number; p90_ms: number }[];
}

async function latency(bytes: Uint8Array, x: Float32Array, width: number) {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
    graphOptimizationLevel: "all",
  });
  const feed = { [INPUT_NAME]: new ort.Tensor("float32", x, [1, FRAMES, width]) };
  for (let i = 0; i < 20; i++) await session.run(feed);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    await session.run(feed);
    times.push(performance.now() - t0);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return { median_ms: times[RUNS >> 1], p90_ms: times[Math.floor(RUNS * 0.9)] };
}

/** The same measurement on the agent's engine (synchronous; timed per call). */
function latencyWasm(bytes: Uint8Array, x: Float32Array, width: number) {
  const engine = WasmModelEngine.create(bytes);
  const input = { dims: [1, FRAMES, width], data: x };
  for (let i = 0; i < 20; i++) engine.run(input);
  const times: number[] = [];
  for (let i = 0; i < RUNS; i++) {
    const t0 = performance.now();
    engine.run(input);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { median_ms: times[RUNS >> 1], p90_ms: times[Math.floor(RUNS * 0.9)] };
}

/** A FRAMES-frame input made of the clips' frames, one after another. */
function utterance(clips: { x: Float32Array; frames: number }[], width: number): Float32Array {
  const x = new Float32Array(FRAMES * width);
  for (let t = 0, i = 0; t < FRAMES; t++) {
    const src = clips[i % clips.length];
    const f = t % src.frames;
    x.set(src.x.subarray(f * width, (f + 1) * width), t * width);
    if (f === src.frames - 1) i++;
  }
  return x;
}

export async function benchModel(
  spec: Partial<ModelSpec> = { pooling: "stats" },
): Promise<ModelBench> {
  await initBackend("wasm");
  const full: ModelSpec = { ...ARCH_DEFAULTS.tdnn, ...spec, inputDim: 40, classes: 8 };
  const vars = initParams(full, 1);
  const weights = new Map([...vars].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));
  tf.dispose([...vars.values()]);
  const inputs: { x: Float32Array; frames: number }[] = [];
  for (const path of benchClips()) {
    const { mfcc, frames } = extractFeatures((await readAudioFile(path)).samples);
    inputs.push({ x: applyStats(mfcc, 40, columnStats(mfcc, 40)), frames });
  }
  const x = utterance(inputs, 40);
  const fp = buildModel(full, weights, { name: "bench", producerVersion: "0", metadata: {} });
  const plan = planQuantization(fp.graph);
  const cal = await calibrate(fp, plan.activations, inputs, INPUT_NAME);
  const rows: ModelBench["rows"] = [];
  const fpBytes = encodeModel(fp);
  const name = `tdnn${full.pooling === "attentive" ? " attentive" : ""}`;
  rows.push({ model: `${name} fp32`, bytes: fpBytes.length, ...(await latency(fpBytes, x, 40)) });
  for (const act of ["uint8", "int8"] as const) {
    const q = encodeModel(quantizeQdq(fp, plan, cal.ranges("minmax"), act));
    rows.push({
      model: `${name} int8 (${act} activations)`,
      bytes: q.length,
      ...(await latency(q, x, 40)),
    });
    if (act === "uint8") {
      rows.push({
        model: `${name} int8 (uint8 activations), agent's engine`,
        bytes: q.length,
        ...latencyWasm(q, x, 40),
      });
    }
  }
  const shipped = fileURLToPath(new URL("../models/default/model.onnx", import.meta.url));
  if (existsSync(shipped)) {
    const bytes = readFileSync(shipped);
    // The shipped model's own input: its manifest's representation (e.g. MFCC + pitch).
    const m = JSON.parse(
      readFileSync(new URL("../models/default/manifest.json", import.meta.url), "utf8"),
    ) as Manifest;
    const width = m.input.shape.at(-1) as number;
    const ex = new FeatureExtractor(m.features);
    const own = await Promise.all(
      benchClips().map(async (p) =>
        representFrames((await readAudioFile(p)).samples, m.representation, ex),
      ),
    );
    rows.push({
      model: `models/default (shipped, ${m.representation})`,
      bytes: bytes.length,
      ...(await latency(bytes, utterance(own, width), width)),
    });
    rows.push({
      model: `models/default (shipped, ${m.representation}), agent's engine`,
      bytes: bytes.length,
      ...latencyWasm(bytes, utterance(own, width), width),
    });
  }
  return { frames: FRAMES, runs: RUNS, rows };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  console.log(JSON.stringify(await benchModel(), null, 2));
}

// A real model bundle for the runtime tests and bench, built as test/cli/classify.test.ts does:
// the trainer's ONNX export of a small TDNN with seeded weights, normalisation statistics of the
// fixture clips, reference cases measured by running the model (so the self-test passes).
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "@ser-edge/agent/audio";
import {
  applyStats,
  columnStats,
  extractFeatures,
  resolveFeatureParams,
} from "@ser-edge/agent/features";
import {
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestDraft,
  ModelRunner,
  type ReferenceCase,
  writeBundle,
} from "@ser-edge/agent/model";
import * as tf from "@tensorflow/tfjs";
import {
  exportModel,
  INPUT_NAME,
  LOGITS_NAME,
  PROBABILITIES_NAME,
} from "../../trainer/src/onnx/export.js";
import { OPSET } from "../../trainer/src/onnx/graph.js";
import {
  ARCH_DEFAULTS,
  initParams,
  type ModelSpec,
  minFrames,
  parameterCount,
} from "../../trainer/src/train/models.js";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));
export const FIXTURE_CLIPS = [
  "03-01-01-01-01-01-01.flac",
  "03-01-02-01-01-01-05.flac",
  "03-01-03-02-02-01-10.flac",
  "03-01-05-02-01-01-02.flac",
].map((f) => join(ROOT, "test/fixtures/audio", f));
export const DEMO_CLIPS = [
  "03-01-01-01-01-01-17.flac",
  "03-01-03-02-01-01-18.flac",
  "03-01-04-02-01-01-20.flac",
  "03-01-05-02-02-01-19.flac",
  "03-01-06-02-01-01-01.wav",
].map((f) => join(ROOT, "demo", f));

export const LABELS = ["neutral", "happy", "sad", "angry"];
const PARAMS = resolveFeatureParams();
const WIDTH = PARAMS.nMfcc;
const SPEC: ModelSpec = { ...ARCH_DEFAULTS.tdnn, hidden: 32, inputDim: WIDTH, classes: 4 };

/**
 * The test TDNN with seeded weights as ONNX bytes; `change` gives other input widths or class
 * counts (graphs that fit no manifest, for the rollout tests).
 */
export function exportTestGraph(
  change: { inputDim?: number; classes?: number },
  seed: number,
  metadata: Record<string, string> = {},
): Uint8Array {
  const spec: ModelSpec = { ...SPEC, ...change };
  const vars = initParams(spec, seed);
  const weights = new Map([...vars].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));
  tf.dispose([...vars.values()]);
  for (const [k, v] of weights) {
    if (k.endsWith("/b")) for (let i = 0; i < v.length; i++) v[i] = 0.1 * Math.sin(i);
  }
  return exportModel(spec, weights, { name: "test", producerVersion: "0.0.0", metadata });
}

export interface TestBundle {
  dir: string;
  manifest: Manifest;
}

/** A bundle in `dir`: name "test-tdnn-<kind>", version "0.0.1", labels LABELS. */
export async function buildTestBundle(
  dir: string,
  kind: "global" | "speaker" = "global",
): Promise<TestBundle> {
  const feats: Float32Array[] = [];
  for (const f of FIXTURE_CLIPS) {
    feats.push(extractFeatures((await readAudioFile(f)).samples, PARAMS).mfcc);
  }
  const all = new Float32Array(feats.reduce((n, f) => n + f.length, 0));
  let o = 0;
  for (const f of feats) {
    all.set(f, o);
    o += f.length;
  }
  const stats = columnStats(all, WIDTH);
  const bytes = exportTestGraph({}, 7, { labels: LABELS.join(",") });
  const split = { speakers: ["ravdess:01"], clips: 4, labelCounts: { neutral: 1 } };
  const draft: ManifestDraft = {
    schema: MANIFEST_SCHEMA,
    name: `test-tdnn-${kind}`,
    version: "0.0.1",
    createdAt: "2025-01-01T00:00:00.000Z",
    labels: [...LABELS],
    representation: "mfcc",
    features: PARAMS,
    normalization: { kind, mean: Array.from(stats.mean), std: Array.from(stats.std) },
    minFrames: minFrames(SPEC),
    input: { name: INPUT_NAME, type: "float32", shape: ["batch", "frames", WIDTH] },
    outputs: {
      probabilities: { name: PROBABILITIES_NAME, type: "float32", shape: ["batch", 4] },
      logits: { name: LOGITS_NAME, type: "float32", shape: ["batch", 4] },
    },
    architecture: { arch: "tdnn", description: "test", parameters: parameterCount(SPEC) },
    training: {
      corpora: ["ravdess"],
      dataHash: "0".repeat(64),
      command: "test",
      epochs: 1,
      seed: 7,
      splits: { train: split },
    },
    metrics: {},
    quantization: { kind: "none" },
    model: { opset: OPSET },
    reference: [],
  };
  const first = await writeBundle(dir, bytes, draft);
  const runner = await ModelRunner.create(bytes, first);
  const reference: ReferenceCase[] = [];
  for (const [i, f] of feats.slice(0, 2).entries()) {
    const frames = 64;
    const x = applyStats(f, WIDTH, stats).subarray(100 * WIDTH, (100 + frames) * WIDTH);
    reference.push({
      description: `fixture ${i}, ${frames} frames`,
      frames,
      input: Array.from(x),
      expected: Array.from(await runner.probabilities(x, frames)),
      tolerance: 1e-4,
    });
  }
  await runner.release();
  const manifest = await writeBundle(dir, bytes, { ...draft, reference });
  return { dir, manifest };
}

// Run directly: builds a bundle in the directory given (for trying `ser-agent run` by hand).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = process.argv[2];
  if (!dir) throw new Error("usage: bundle.ts DIR [global|speaker]");
  const b = await buildTestBundle(dir, (process.argv[3] as "global" | "speaker") ?? "global");
  console.log(`${b.manifest.name} ${b.manifest.version} in ${b.dir}`);
}

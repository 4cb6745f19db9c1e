import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { DEFAULT_FEATURE_PARAMS } from "@ser-edge/agent/features";
import {
  loadModel,
  MANIFEST_SCHEMA,
  type ManifestDraft,
  ModelError,
  repeatToLength,
  writeBundle,
} from "@ser-edge/agent/model";
import type * as tf from "@tensorflow/tfjs";
import { buildModel } from "../../trainer/src/onnx/export.js";
import { encodeModel } from "../../trainer/src/onnx/proto.js";
import { initBackend } from "../../trainer/src/train/backend.js";
import { cropFrames } from "../../trainer/src/train/batches.js";
import { predict } from "../../trainer/src/train/loop.js";
import {
  ARCH_DEFAULTS,
  initParams,
  type ModelSpec,
  minFrames,
} from "../../trainer/src/train/models.js";

const spec: ModelSpec = { ...ARCH_DEFAULTS.tdnn, hidden: 32, inputDim: 40, classes: 3 };
const labels = ["calm", "angry", "sad"];
let params: Map<string, tf.Variable>;
let bytes: Uint8Array;

function draft(overrides: Partial<ManifestDraft> = {}): ManifestDraft {
  const split = { speakers: ["x:1"], clips: 3, labelCounts: { calm: 1, angry: 1, sad: 1 } };
  return {
    schema: MANIFEST_SCHEMA,
    name: "runner-test",
    version: "0.0.1",
    createdAt: new Date(0).toISOString(),
    labels,
    representation: "mfcc",
    features: { ...DEFAULT_FEATURE_PARAMS },
    normalization: { kind: "global", mean: new Array(40).fill(0), std: new Array(40).fill(1) },
    minFrames: minFrames(spec),
    input: { name: "features", type: "float32", shape: ["batch", "frames", 40] },
    outputs: {
      probabilities: { name: "probabilities", type: "float32", shape: ["batch", 3] },
      logits: { name: "logits", type: "float32", shape: ["batch", 3] },
    },
    architecture: { arch: "tdnn", description: "test", parameters: 1 },
    training: {
      corpora: ["x"],
      dataHash: "0".repeat(64),
      command: "test",
      epochs: 1,
      seed: 1,
      splits: { train: split },
    },
    metrics: {},
    quantization: { kind: "none" },
    model: { opset: 17 },
    reference: [],
    ...overrides,
  };
}

before(async () => {
  await initBackend("wasm");
  params = initParams(spec, 9);
  const weights = new Map([...params].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));
  bytes = encodeModel(buildModel(spec, weights, { name: "t", producerVersion: "0", metadata: {} }));
});

describe("model runner", () => {
  it("short utterances are repeated exactly as the trainer evaluates them", () => {
    const x = Float32Array.from({ length: 7 * 2 }, (_, i) => i);
    assert.deepEqual(repeatToLength(x, 7, 2, 16).x, cropFrames(x, 7, 2, 16, null));
    assert.equal(repeatToLength(x, 7, 2, 5).x, x, "long enough: untouched");
  });

  it("loads a checked bundle and computes what the trained model predicts, short input included", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ser-runner-"));
    await writeBundle(dir, bytes, draft());
    const runner = await loadModel(dir, { requireSignature: false });
    for (const frames of [minFrames(spec) - 7, 180]) {
      const x = Float32Array.from({ length: frames * 40 }, (_, i) => Math.sin(i * 0.37));
      const got = await runner.probabilities(x, frames);
      const want = predict(spec, params, { x, frames, label: 0, id: "t" });
      for (const [j, v] of want.entries())
        assert.ok(Math.abs(v - got[j]) < 1e-5, `${frames} frames`);
      assert.ok(Math.abs(got.reduce((a, b) => a + b, 0) - 1) < 1e-5);
    }
    await assert.rejects(runner.probabilities(new Float32Array(39), 1), /expected 1 x 40/);
    await runner.release();
  });

  it("refuses a manifest whose input or outputs are not the graph's", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ser-runner-"));
    await writeBundle(
      dir,
      bytes,
      draft({ input: { name: "mfcc", type: "float32", shape: ["batch", "frames", 40] } }),
    );
    await assert.rejects(
      loadModel(dir, { requireSignature: false }),
      (err: unknown) => err instanceof ModelError && err.code === "io-mismatch",
    );
  });

  it("refuses model bytes that ONNX Runtime cannot load, even with a matching hash", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ser-runner-"));
    await writeBundle(dir, bytes.slice(0, 1000), draft());
    await assert.rejects(
      loadModel(dir, { requireSignature: false }),
      (err: unknown) =>
        err instanceof ModelError && err.code === "model-invalid" && /re-export/.test(err.message),
    );
  });
});

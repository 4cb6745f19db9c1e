import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "@ser-edge/agent/audio";
import { applyStats, columnStats, extractFeatures } from "@ser-edge/agent/features";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-node";
import { buildModel, INPUT_NAME, LOGITS_NAME } from "../../trainer/src/onnx/export.js";
import { OPSET } from "../../trainer/src/onnx/graph.js";
import { decodeModel, encodeModel } from "../../trainer/src/onnx/proto.js";
import { calibrate } from "../../trainer/src/quantize/calibrate.js";
import { planQuantization } from "../../trainer/src/quantize/plan.js";
import { activationParams, quantizeQdq, quantizeWeights } from "../../trainer/src/quantize/qdq.js";
import { initBackend } from "../../trainer/src/train/backend.js";
import {
  ARCH_DEFAULTS,
  type Arch,
  forward,
  initParams,
  type ModelSpec,
} from "../../trainer/src/train/models.js";

const AUDIO = new URL("../fixtures/audio/", import.meta.url);
const CLIPS = [
  "03-01-01-01-01-01-01.flac",
  "03-01-02-01-01-01-05.flac",
  "03-01-03-02-02-01-10.flac",
  "03-01-05-02-01-01-02.flac",
];

/** Debian's python3-onnx (installed by .ci/run) is the independent validator. */
function onnxChecker(files: string[]): void {
  const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
  const script =
    "import sys, onnx\n" +
    "for f in sys.argv[1:]:\n" +
    "    onnx.checker.check_model(onnx.load(f), full_check=True)\n" +
    "print('ok', len(sys.argv) - 1)\n";
  try {
    const out = execFileSync(python, ["-c", script, ...files], { encoding: "utf8" });
    assert.match(out, new RegExp(`ok ${files.length}`));
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    assert.fail(
      `onnx.checker rejected a model, or python3-onnx is missing (.ci/run installs it):\n${e.stderr ?? e.message}`,
    );
  }
}

/**
 * 24 real-length inputs: windows of 0.4 to 4 s cut from the fixture clips' MFCCs, normalised
 * with each clip's statistics (the model's input distribution).
 */
let inputs: { x: Float32Array; frames: number }[] = [];
before(async () => {
  await initBackend("wasm");
  for (const clip of CLIPS) {
    const audio = await readAudioFile(fileURLToPath(new URL(clip, AUDIO)));
    const { mfcc, frames } = extractFeatures(audio.samples);
    const x = applyStats(mfcc, 40, columnStats(mfcc, 40));
    for (const len of [40, 97, 160, 233, 301, frames]) {
      const n = Math.min(len, frames);
      const start = Math.floor((frames - n) / 3);
      inputs.push({ x: x.slice(start * 40, (start + n) * 40), frames: n });
    }
  }
  inputs = inputs.filter((i) => i.frames >= 40);
});

const VARIANTS: { name: string; spec: ModelSpec }[] = (
  [
    ["tdnn", {}],
    ["tdnn", { pooling: "attentive" }],
    ["tdnn", { pooling: "attentive", utteranceMean: true }],
    ["tdnn", { layerNorm: true }],
    ["cnn1d", {}],
    ["mlp", {}],
    ["lstm", {}],
    ["lstm", { pooling: "attentive" }],
  ] as [Arch, Partial<ModelSpec>][]
).map(([arch, extra]) => ({
  name: `${arch}${Object.keys(extra).length ? ` ${JSON.stringify(extra)}` : ""}`,
  spec: { ...ARCH_DEFAULTS[arch], ...extra, inputDim: 40, classes: 8 },
}));

function weightsOf(spec: ModelSpec, seed: number): Map<string, Float32Array> {
  const vars = initParams(spec, seed);
  const out = new Map([...vars].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));
  // Non-zero biases, so that a bias in the wrong place shows.
  for (const [k, v] of out)
    if (k.endsWith("/b")) for (let i = 0; i < v.length; i++) v[i] = 0.05 * Math.sin(i + seed);
  tf.dispose([...vars.values()]);
  return out;
}

const META = { name: "test", producerVersion: "0.0.0", metadata: { labels: "a,b,c,d,e,f,g,h" } };

describe("ONNX export", () => {
  it("every architecture passes onnx.checker (full_check) and computes the tfjs logits within 1e-4 on 20+ real-length inputs", async () => {
    assert.ok(inputs.length >= 20, `${inputs.length} inputs`);
    const dir = mkdtempSync(join(tmpdir(), "ser-onnx-"));
    const files: string[] = [];
    for (const [i, { name, spec }] of VARIANTS.entries()) {
      const weights = weightsOf(spec, 11 + i);
      const bytes = encodeModel(buildModel(spec, weights, META));
      const file = join(dir, `model-${i}.onnx`);
      writeFileSync(file, bytes);
      files.push(file);
      const session = await ort.InferenceSession.create(bytes);
      const params = new Map([...weights].map(([k, v]) => [k, tf.tensor(v)]));
      const shapes = new Map(
        [...initParams(spec, 0)].map(([k, v]) => {
          const s = v.shape;
          v.dispose();
          return [k, s];
        }),
      );
      for (const [k, t] of params) params.set(k, tf.reshape(t, shapes.get(k) as number[]));
      let worst = 0;
      let spread = 0;
      for (const input of inputs) {
        const ref = tf.tidy(() =>
          forward(spec, params, tf.tensor3d(input.x, [1, input.frames, 40]), {
            training: false,
          }).dataSync(),
        );
        const out = await session.run({
          [INPUT_NAME]: new ort.Tensor("float32", input.x, [1, input.frames, 40]),
        });
        const got = out[LOGITS_NAME].data as Float32Array;
        assert.equal(got.length, 8);
        ref.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(v - got[j]));
          spread = Math.max(spread, Math.abs(v));
        });
      }
      assert.ok(worst < 1e-4, `${name}: max |tfjs - onnx| = ${worst}`);
      assert.ok(spread > 0.05, `${name}: logits too small to compare (${spread})`);
      await session.release();
      tf.dispose([...params.values()]);
    }
    onnxChecker(files);
  });

  it("utterance mean: an offset on c1.. changes nothing, on c0 it does (tfjs and ONNX)", async () => {
    const spec: ModelSpec = {
      ...ARCH_DEFAULTS.tdnn,
      pooling: "attentive",
      utteranceMean: true,
      inputDim: 40,
      classes: 8,
    };
    const weights = weightsOf(spec, 5);
    const session = await ort.InferenceSession.create(encodeModel(buildModel(spec, weights, META)));
    const shapes = new Map(
      [...initParams(spec, 0)].map(([k, v]) => {
        const shape = v.shape;
        v.dispose();
        return [k, shape] as const;
      }),
    );
    const params = new Map(
      [...weights].map(([k, v]) => [k, tf.tensor(v, [...(shapes.get(k) ?? [])])]),
    );
    const { x, frames } = inputs[0];
    const shifted = (column: (c: number) => boolean) =>
      x.map((v, i) => (column(i % 40) ? v + 0.7 + 0.01 * (i % 40) : v));
    const logits = async (input: Float32Array) => {
      const ref = tf.tidy(() =>
        forward(spec, params, tf.tensor3d(input, [1, frames, 40]), { training: false }).dataSync(),
      );
      const out = await session.run({
        [INPUT_NAME]: new ort.Tensor("float32", input, [1, frames, 40]),
      });
      return { tfjs: Array.from(ref), onnx: Array.from(out[LOGITS_NAME].data as Float32Array) };
    };
    const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, j) => Math.abs(v - b[j])));
    const base = await logits(x);
    const rest = await logits(shifted((c) => c > 0));
    const c0 = await logits(shifted((c) => c === 0));
    for (const k of ["tfjs", "onnx"] as const) {
      assert.ok(maxDiff(base[k], rest[k]) < 1e-4, `${k}: offset on c1.. moved the logits`);
      assert.ok(maxDiff(base[k], c0[k]) > 1e-3, `${k}: an offset on c0 should matter`);
    }
    await session.release();
    tf.dispose([...params.values()]);
  });

  it("declares opset 17, a dynamic batch and time axis, and carries the manifest essentials", () => {
    const spec = VARIANTS[0].spec;
    const model = decodeModel(encodeModel(buildModel(spec, weightsOf(spec, 1), META)));
    assert.equal(model.opsetImport[0].version, OPSET);
    const dims = model.graph.input[0].type.tensorType.shape?.dim ?? [];
    assert.deepEqual(dims, [{ dimParam: "batch" }, { dimParam: "frames" }, { dimValue: 40 }]);
    assert.deepEqual(
      model.graph.output.map((o) => o.name),
      ["logits", "probabilities"],
    );
    assert.deepEqual(model.metadataProps, [{ key: "labels", value: "a,b,c,d,e,f,g,h" }]);
  });

  it("refuses weights that do not fit the architecture", () => {
    const spec = VARIANTS[0].spec;
    const w = weightsOf(spec, 1);
    w.set("frame0/w", new Float32Array(10));
    assert.throws(() => buildModel(spec, w, META), /frame0\/w has 10 values/);
    w.delete("frame0/w");
    assert.throws(() => buildModel(spec, w, META), /frame0\/w is missing/);
  });
});

describe("int8 quantization", () => {
  it("per-channel symmetric weights: each channel's largest weight maps to +-127", () => {
    const w = Float32Array.from([0.5, -1, 0.25, 2, 0.1, -0.2, 0, 0]); // [4, 2], channels on axis 1
    const { q, scales } = quantizeWeights(w, [4, 2], 1);
    // Channel 0 holds 0.5, 0.25, 0.1, 0; channel 1 holds -1, 2, -0.2, 0.
    assert.deepEqual(
      Array.from(scales),
      [0.5 / 127, 2 / 127].map((v) => Math.fround(v)),
    );
    assert.equal(q[0], 127);
    assert.equal(q[3], 127);
    for (const [i, v] of w.entries()) {
      assert.ok(Math.abs(q[i] * scales[i % 2] - v) <= scales[i % 2] / 2 + 1e-7);
    }
    const conv = quantizeWeights(Float32Array.from([1, -3, 0.5, 0.5]), [2, 1, 2], 0);
    assert.deepEqual(Array.from(conv.q), [42, -127, 127, 127]);
  });

  it("activation ranges keep zero exact, and a Relu range uses the lowest code", () => {
    const relu = activationParams({ min: 0, max: 6 }, "uint8");
    assert.equal(relu.zeroPoint, 0);
    assert.equal(activationParams({ min: 0, max: 6 }, "int8").zeroPoint, -128);
    const p = activationParams({ min: -1, max: 3 }, "int8");
    assert.equal(Math.round(0 / p.scale) + p.zeroPoint, p.zeroPoint);
    assert.ok(Math.abs(p.scale - 4 / 255) < 1e-9);
    assert.equal(p.zeroPoint, -64);
  });

  it("attentive pooling: the attention's hidden layer is int8, the scores before the softmax stay float", async () => {
    const spec = VARIANTS[1].spec;
    const fp = buildModel(spec, weightsOf(spec, 4), META);
    const plan = planQuantization(fp.graph);
    assert.deepEqual(
      plan.targets.map((t) => t.weight),
      ["frame0/w", "frame1/w", "frame2/w", "frame3/w", "attend/w", "embed/w", "out/w"],
    );
    const cal = await calibrate(fp, plan.activations, inputs.slice(0, 8), INPUT_NAME);
    const qBytes = encodeModel(quantizeQdq(fp, plan, cal.ranges("minmax"), "uint8"));
    const dir = mkdtempSync(join(tmpdir(), "ser-int8-att-"));
    const optimized = join(dir, "optimized.onnx");
    const q = await ort.InferenceSession.create(qBytes, {
      graphOptimizationLevel: "all",
      optimizedModelFilePath: optimized,
    });
    const ops = decodeModel(readFileSync(optimized)).graph.node.map((n) => n.opType);
    assert.equal(ops.filter((o) => o === "QLinearConv").length, 5, ops.join(" "));
    assert.equal(ops.filter((o) => o === "Conv").length, 1, "the score projection");
    assert.ok(qBytes.length <= 0.3 * encodeModel(fp).length);
    await q.release();
  });

  it("a QDQ TDNN runs on ONNX Runtime's integer kernels, is under 30% of fp32 and tracks its outputs", async () => {
    const spec = VARIANTS[0].spec;
    const fp = buildModel(spec, weightsOf(spec, 3), META);
    const plan = planQuantization(fp.graph);
    assert.deepEqual(
      plan.targets.map((t) => t.node.opType),
      ["Conv", "Conv", "Conv", "Conv", "Gemm", "Gemm"],
    );
    const cal = await calibrate(fp, plan.activations, inputs.slice(0, 12), INPUT_NAME);
    const minmax = cal.ranges("minmax");
    const pct = cal.ranges("percentile-99.9");
    for (const name of plan.activations) {
      const a = minmax.get(name);
      const b = pct.get(name);
      assert.ok(a && b && b.max <= a.max && b.min >= a.min, `${name}: percentile within min-max`);
    }
    const fpBytes = encodeModel(fp);
    const dir = mkdtempSync(join(tmpdir(), "ser-int8-"));
    for (const act of ["uint8", "int8"] as const) {
      const qBytes = encodeModel(quantizeQdq(fp, plan, minmax, act));
      assert.ok(qBytes.length <= 0.3 * fpBytes.length, `${qBytes.length} vs ${fpBytes.length}`);
      const file = join(dir, `${act}.onnx`);
      writeFileSync(file, qBytes);
      onnxChecker([file]);
      const optimized = join(dir, `${act}-optimized.onnx`);
      const q = await ort.InferenceSession.create(qBytes, {
        graphOptimizationLevel: "all",
        optimizedModelFilePath: optimized,
      });
      const ops = decodeModel(readFileSync(optimized)).graph.node.map((n) => n.opType);
      if (act === "uint8") {
        // Every frame layer and dense layer became an integer kernel.
        assert.equal(ops.filter((o) => o === "QLinearConv").length, 4, ops.join(" "));
        assert.equal(ops.filter((o) => o === "QGemm").length, 2, ops.join(" "));
        assert.ok(!ops.includes("Conv") && !ops.includes("Gemm"), ops.join(" "));
      } else {
        assert.ok(ops.includes("QLinearConv"), ops.join(" "));
      }
      const f = await ort.InferenceSession.create(fpBytes);
      let worst = 0;
      let range = 0;
      for (const input of inputs) {
        const feed = { [INPUT_NAME]: new ort.Tensor("float32", input.x, [1, input.frames, 40]) };
        const a = (await f.run(feed))[LOGITS_NAME].data as Float32Array;
        const b = (await q.run(feed))[LOGITS_NAME].data as Float32Array;
        a.forEach((v, j) => {
          worst = Math.max(worst, Math.abs(v - b[j]));
          range = Math.max(range, Math.abs(v));
        });
      }
      assert.ok(worst < 0.05 * range, `${act}: int8 logits off by ${worst} (range ${range})`);
      await q.release();
      await f.release();
    }
  });
});

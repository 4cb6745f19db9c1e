import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { readAudioFile } from "@ser-edge/agent/audio";
import { applyStats, FeatureExtractor, representFrames } from "@ser-edge/agent/features";
import {
  isModelError,
  type Manifest,
  ModelRunner,
  UnsupportedModelError,
  WasmModelEngine,
} from "@ser-edge/agent/model";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-node";
import { exportModel } from "../../trainer/src/onnx/export.js";
import { float, GraphBuilder } from "../../trainer/src/onnx/graph.js";
import { decodeModel, encodeModel } from "../../trainer/src/onnx/proto.js";
import { calibrate } from "../../trainer/src/quantize/calibrate.js";
import { planQuantization } from "../../trainer/src/quantize/plan.js";
import { type ActivationType, quantizeQdq } from "../../trainer/src/quantize/qdq.js";
import {
  ARCH_DEFAULTS,
  type Arch,
  initParams,
  type ModelSpec,
} from "../../trainer/src/train/models.js";
import { buildTestBundle, FIXTURE_CLIPS, ROOT } from "../runtime/bundle.js";

const DEFAULT_DIR = join(ROOT, "models/default");
const WIDTH = 40;

/** Seeded pseudo-normal values: normalised features look like this. */
function features(frames: number, width: number, seed: number): Float32Array {
  let s = seed;
  const u = () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return (s + 1) / 2147483649;
  };
  const x = new Float32Array(frames * width);
  for (let i = 0; i < x.length; i++)
    x[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return x;
}

function graph(
  arch: Arch,
  pooling: "stats" | "attentive" = "stats",
  hidden = 24,
): { spec: ModelSpec; bytes: Uint8Array } {
  const spec: ModelSpec = {
    ...ARCH_DEFAULTS[arch],
    hidden,
    inputDim: WIDTH,
    classes: 5,
    pooling,
  };
  const vars = initParams(spec, 3);
  const weights = new Map([...vars].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));
  tf.dispose([...vars.values()]);
  for (const [k, v] of weights) {
    if (k.endsWith("/b")) for (let i = 0; i < v.length; i++) v[i] = 0.1 * Math.sin(i + 1);
  }
  return {
    spec,
    bytes: exportModel(spec, weights, { name: "t", producerVersion: "0", metadata: {} }),
  };
}

/** The trainer's int8 export of a float graph: calibrated on seeded inputs, min-max ranges. */
async function quantized(
  bytes: Uint8Array,
  activations: ActivationType = "uint8",
): Promise<Uint8Array> {
  const model = decodeModel(bytes);
  const plan = planQuantization(model.graph);
  const inputs = [60, 150, 301].map((frames, i) => ({
    x: features(frames, WIDTH, 11 + i),
    frames,
  }));
  const cal = await calibrate(model, plan.activations, inputs, "features");
  return encodeModel(quantizeQdq(model, plan, cal.ranges("minmax"), activations));
}

/** Largest difference of every output between the engine and ONNX Runtime, over `inputs`. */
async function compare(
  bytes: Uint8Array,
  width: number,
  inputs: { x: Float32Array; frames: number }[],
): Promise<{ worst: number; sameLabel: number }> {
  const engine = WasmModelEngine.create(bytes);
  const session = await ort.InferenceSession.create(bytes);
  let worst = 0;
  let sameLabel = 0;
  try {
    for (const { x, frames } of inputs) {
      const want = await session.run({
        features: new ort.Tensor("float32", x, [1, frames, width]),
      });
      const got = engine.run({ dims: [1, frames, width], data: x });
      for (const name of session.outputNames) {
        const a = want[name].data as Float32Array;
        const b = got.get(name)?.data;
        assert.ok(b, `engine output ${name}`);
        assert.equal(b.length, a.length, name);
        for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
      }
      const p = want.probabilities.data as Float32Array;
      const q = got.get("probabilities")?.data as Float32Array;
      if (p.indexOf(Math.max(...p)) === q.indexOf(Math.max(...q))) sameLabel++;
    }
  } finally {
    await session.release();
  }
  return { worst, sameLabel };
}

const lengths = (width: number) =>
  [40, 61, 150, 151, 300, 733].map((frames, i) => ({
    x: features(frames, width, 100 + i),
    frames,
  }));

describe("the agent's model engine (WebAssembly) against ONNX Runtime", () => {
  it("runs the shipped int8 model to ONNX Runtime's outputs, on real utterances and on noise", async () => {
    const bytes = readFileSync(join(DEFAULT_DIR, "model.onnx"));
    const manifest = JSON.parse(
      readFileSync(join(DEFAULT_DIR, "manifest.json"), "utf8"),
    ) as Manifest;
    const width = manifest.input.shape.at(-1) as number;
    const extractor = new FeatureExtractor(manifest.features);
    const real = [];
    for (const f of FIXTURE_CLIPS) {
      const { x, frames } = representFrames(
        (await readAudioFile(f)).samples,
        manifest.representation,
        extractor,
      );
      const stats = {
        mean: Float64Array.from(manifest.normalization.mean),
        std: Float64Array.from(manifest.normalization.std),
      };
      real.push({ x: applyStats(x, width, stats), frames });
    }
    const inputs = [...real, ...lengths(width)];
    const { worst, sameLabel } = await compare(bytes, width, inputs);
    // Integer sums are exact; a rare uint8 rounding tie may land one step apart.
    assert.ok(worst < 1e-3, `largest difference ${worst}`);
    assert.equal(sameLabel, inputs.length);
  });

  for (const [arch, pooling, hidden] of [
    ["tdnn", "stats", 24],
    ["tdnn", "attentive", 24],
    // Channel counts that fill neither a 4-channel group nor an 8- or 16-lane vector.
    ["tdnn", "attentive", 22],
    ["cnn1d", "stats", 24],
    ["mlp", "stats", 24],
  ] as const) {
    it(`${arch} (${pooling} pooling, width ${hidden}): the float graph and its int8 export`, async () => {
      const { bytes } = graph(arch, pooling, hidden);
      const fp = await compare(bytes, WIDTH, lengths(WIDTH));
      assert.ok(fp.worst < 1e-5, `float: largest difference ${fp.worst}`);
      const q = await compare(await quantized(bytes), WIDTH, lengths(WIDTH));
      assert.ok(q.worst < 1e-3, `int8: largest difference ${q.worst}`);
      assert.ok(q.sameLabel >= 5, `int8: ${q.sameLabel} of 6 labels agree`);
    });
  }

  it("runs the float operators as ONNX defines them: negative axes, broadcasting, attributes", async () => {
    // features [1, T, 6] -> Transpose -> [1, 6, T]; Softmax over the last axis (-1); times a
    // per-channel constant [6, 1] (broadcast); ReduceMean over time (an attribute, keepdims 0);
    // Sqrt of a Sigmoid; Concat with a Tanh; a float Gemm (transB) plus bias; Div; Squeeze.
    const g = new GraphBuilder();
    const x = g.input("features", ["batch", "frames", 6]);
    const t = g.op("Transpose", [x], { perm: [0, 2, 1] });
    const sm = g.op("Softmax", [t], { axis: -1 });
    const scale = g.constant("scale", Float32Array.from([1, -2, 3, 0.5, -0.25, 4]), [6, 1]);
    const m = g.op("Mul", [sm, scale]);
    const pooled = g.op("ReduceMean", [m], { axes: [-1], keepdims: 0 });
    const sq = g.op("Sqrt", [g.op("Sigmoid", [pooled])]);
    const both = g.op("Concat", [sq, g.op("Tanh", [pooled])], { axis: -1 });
    const w = g.constant(
      "w",
      Float32Array.from({ length: 36 }, (_, i) => Math.sin(i)),
      [3, 12],
    );
    const b = g.constant("b", Float32Array.from([0.1, -0.2, 0.3]), [3]);
    const y = g.op("Gemm", [both, w, b], { transB: 1, alpha: float(0.5) });
    const two = g.constant("two", Float32Array.from([2]), []);
    const z = g.op("Div", [y, two]);
    const u = g.op("Unsqueeze", [z, g.ints("ax", [1])]);
    g.op("Squeeze", [u, g.ints("ax1", [1])], {}, "logits");
    g.op("Softmax", ["logits"], { axis: 1 }, "probabilities");
    g.output("logits", ["batch", 3]);
    g.output("probabilities", ["batch", 3]);
    const bytes = encodeModel(g.model({ name: "ops", producerVersion: "0", metadata: {} }));
    // Unsqueeze is not the engine's: refused; the same graph without it runs.
    assert.throws(() => WasmModelEngine.create(bytes), /Unsqueeze/);
    const model = decodeModel(bytes);
    const nodes = model.graph.node.filter(
      (n) => n.opType !== "Unsqueeze" && n.opType !== "Squeeze",
    );
    const last = nodes.find((n) => n.opType === "Div");
    assert.ok(last);
    last.output = ["logits"];
    const plain = encodeModel({ ...model, graph: { ...model.graph, node: nodes } });
    const inputs = [5, 17, 64].map((frames, i) => ({ x: features(frames, 6, 40 + i), frames }));
    const { worst } = await compare(plain, 6, inputs);
    assert.ok(worst < 1e-6, `largest difference ${worst}`);
  });

  it("refuses what it does not run: an LSTM, int8 activations, a file that is no model", async () => {
    assert.throws(() => WasmModelEngine.create(graph("lstm").bytes), UnsupportedModelError);
    const int8 = await quantized(graph("tdnn").bytes, "int8");
    assert.throws(() => WasmModelEngine.create(int8), /int8/);
    const good = graph("tdnn").bytes;
    assert.throws(
      () => WasmModelEngine.create(good.subarray(0, good.length - 100)),
      /truncated|holds/,
    );
    assert.throws(() => WasmModelEngine.create(new Uint8Array([1, 2, 3])), Error);
  });

  it("rejects inputs the graph cannot take, with the reason", () => {
    const engine = WasmModelEngine.create(graph("tdnn").bytes);
    assert.throws(() => engine.run({ dims: [1, 3, WIDTH], data: features(3, WIDTH, 1) }), /frames/);
  });
});

describe("ModelRunner chooses the runtime", () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "ser-engine-"));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("auto: the engine for a graph it runs, ONNX Runtime (with the reason) for one it does not", async () => {
    const b = await buildTestBundle(join(dir, "tdnn"));
    const bytes = readFileSync(join(b.dir, b.manifest.model.file));
    const auto = await ModelRunner.create(bytes, b.manifest);
    assert.equal(auto.runtime, "wasm");
    assert.equal(auto.fallbackReason, undefined);
    const viaOrt = await ModelRunner.create(bytes, b.manifest, { runtime: "onnxruntime" });
    assert.equal(viaOrt.runtime, "onnxruntime");
    const x = features(120, b.manifest.input.shape.at(-1) as number, 5);
    const p = await auto.probabilities(x, 120);
    const q = await viaOrt.probabilities(x, 120);
    for (let i = 0; i < p.length; i++) assert.ok(Math.abs(p[i] - q[i]) < 1e-5);
    await auto.release();
    await viaOrt.release();

    // The same manifest over an LSTM graph: not the engine's.
    const lstm = graph("lstm").bytes;
    const m = {
      ...b.manifest,
      input: { ...b.manifest.input, shape: ["batch", "frames", WIDTH] },
      labels: ["a", "b", "c", "d", "e"],
    } as Manifest;
    const fallback = await ModelRunner.create(lstm, m);
    assert.equal(fallback.runtime, "onnxruntime");
    assert.match(fallback.fallbackReason ?? "", /LSTM/);
    await fallback.release();
    await assert.rejects(
      ModelRunner.create(lstm, m, { runtime: "wasm" }),
      (err: unknown) => isModelError(err) && /inference\.runtime/.test((err as Error).message),
    );
  });

  it("with the default model the agent never loads ONNX Runtime", () => {
    // A fresh process: load, self-test and classify as the agent does, then look at what the
    // process has mapped.
    const script = `
      const { loadTrustedModel } = await import("@ser-edge/agent/model");
      const runner = await loadTrustedModel(${JSON.stringify(DEFAULT_DIR)}, {});
      const width = runner.manifest.input.shape.at(-1);
      await runner.probabilities(new Float32Array(200 * width), 200);
      const maps = (await import("node:fs")).readFileSync("/proc/self/maps", "utf8");
      console.log(JSON.stringify({ runtime: runner.runtime, ort: /onnxruntime/.test(maps) }));
    `;
    const out = execFileSync(process.execPath, ["--input-type=module", "-e", script], {
      cwd: ROOT,
      encoding: "utf8",
    });
    assert.deepEqual(JSON.parse(out.trim().split("\n").at(-1) ?? "{}"), {
      runtime: "wasm",
      ort: false,
    });
  });
});

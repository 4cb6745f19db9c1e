import { frameContexts, type ModelSpec, parameterShapes } from "../train/models.js";
import { GraphBuilder } from "./graph.js";
import { encodeModel, type ModelProtoObject } from "./proto.js";

/** Graph input and output names: the manifest repeats them and the agent checks them. */
export const INPUT_NAME = "features";
export const LOGITS_NAME = "logits";
export const PROBABILITIES_NAME = "probabilities";

const EPS = 1e-5; // as in models.ts: inside the square root of every variance

export interface ExportOptions {
  name: string;
  producerVersion: string;
  /** Stored as metadata_props: labels, feature parameters, version... (strings). */
  metadata: Record<string, string>;
}

/**
 * The trained model (models.ts forward(), inference mode) as an ONNX graph. Input
 * [batch, frames, features] with both leading axes dynamic; outputs logits and softmax
 * probabilities [batch, classes]. Frame layers run as Conv over [batch, channels, frames]: a TDNN
 * splice of offsets {-d, 0, d} times a matMul is a dilated convolution, which ONNX Runtime (and
 * its int8 kernels) execute directly.
 */
export function buildModel(
  spec: ModelSpec,
  weights: Map<string, Float32Array>,
  opts: ExportOptions,
): ModelProtoObject {
  const shapes = new Map(parameterShapes(spec));
  const w = (name: string): { data: Float32Array; shape: number[] } => {
    const data = weights.get(name);
    const shape = shapes.get(name);
    if (!data || !shape) throw new Error(`model parameter ${name} is missing`);
    if (data.length !== shape.reduce((a, b) => a * b, 1)) {
      throw new Error(`model parameter ${name} has ${data.length} values, expected [${shape}]`);
    }
    return { data, shape };
  };
  const g = new GraphBuilder();
  const x = g.input(INPUT_NAME, ["batch", "frames", spec.inputDim]);
  // [B, T, D] -> [B, D, T]: channels first for Conv, AveragePool and time reductions.
  let h = g.op("Transpose", [x], { perm: [0, 2, 1] });
  if (spec.utteranceMean) {
    // As subtractUtteranceMean(): the mean over time of every column but the first.
    const mask = Float32Array.from({ length: spec.inputDim }, (_, c) => (c === 0 ? 0 : 1));
    const m = g.op("ReduceMean", [h], { axes: [2], keepdims: 1 });
    h = g.op("Sub", [h, g.op("Mul", [m, g.constant("mean_mask", mask, [spec.inputDim, 1])])]);
  }
  if (spec.poolFrames > 1) {
    // Floor mode, no padding: the mean of each whole group of k frames, as avgPoolTime().
    h = g.op("AveragePool", [h], { kernel_shape: [spec.poolFrames], strides: [spec.poolFrames] });
  }
  let pooled: string;
  if (spec.arch === "tdnn" || spec.arch === "cnn1d") {
    frameContexts(spec.arch).forEach((ctx, i) => {
      h = spliceConv(g, h, ctx, w(`frame${i}/w`), w(`frame${i}/b`), `frame${i}`);
      h = g.op("Relu", [h]);
      if (spec.layerNorm) h = layerNormChannels(g, h);
    });
    pooled = pool(g, spec, h, w);
    pooled = dense(g, pooled, w("embed/w"), w("embed/b"), "embed", true);
  } else if (spec.arch === "mlp") {
    pooled = statsPool(g, h);
    pooled = dense(g, pooled, w("hidden0/w"), w("hidden0/b"), "hidden0", true);
    pooled = dense(g, pooled, w("hidden1/w"), w("hidden1/b"), "hidden1", true);
  } else {
    h = lstm(g, h, w("lstm/w"), w("lstm/b"), spec.hidden, spec.inputDim);
    pooled = pool(g, spec, h, w);
    pooled = dense(g, pooled, w("embed/w"), w("embed/b"), "embed", true);
  }
  const logits = dense(g, pooled, w("out/w"), w("out/b"), "out", false, LOGITS_NAME);
  g.op("Softmax", [logits], { axis: 1 }, PROBABILITIES_NAME);
  g.output(LOGITS_NAME, ["batch", spec.classes]);
  g.output(PROBABILITIES_NAME, ["batch", spec.classes]);
  return g.model({
    name: opts.name,
    producerVersion: opts.producerVersion,
    metadata: opts.metadata,
    docString: "ser-edge speech emotion model: MFCC/mel frames in, emotion probabilities out",
  });
}

export function exportModel(
  spec: ModelSpec,
  weights: Map<string, Float32Array>,
  opts: ExportOptions,
): Uint8Array {
  return encodeModel(buildModel(spec, weights, opts));
}

type Param = { data: Float32Array; shape: number[] };

/**
 * A splice layer (offsets ctx, weight [C * ctx.length, out] with context-major rows) as Conv
 * weight [out, C, k] with dilation = the spacing of the offsets.
 */
function spliceConv(
  g: GraphBuilder,
  x: string,
  ctx: number[],
  weight: Param,
  bias: Param,
  name: string,
): string {
  const k = ctx.length;
  const dilation = k > 1 ? ctx[1] - ctx[0] : 1;
  if (ctx.some((o, j) => o !== ctx[0] + j * dilation)) {
    throw new Error(`${name}: offsets [${ctx}] are not evenly spaced; no Conv equivalent`);
  }
  const [rows, out] = weight.shape;
  const c = rows / k;
  const kernel = new Float32Array(out * c * k);
  for (let o = 0; o < out; o++) {
    for (let ch = 0; ch < c; ch++) {
      for (let j = 0; j < k; j++)
        kernel[(o * c + ch) * k + j] = weight.data[(j * c + ch) * out + o];
    }
  }
  const wName = g.constant(`${name}/w`, kernel, [out, c, k]);
  const bName = g.constant(`${name}/b`, bias.data, [out]);
  return g.op("Conv", [x, wName, bName], {
    kernel_shape: [k],
    dilations: [dilation],
    strides: [1],
    pads: [0, 0],
  });
}

/** relu?(x W + b) on [B, in]: Gemm, which ONNX Runtime quantizes to QGemm. */
function dense(
  g: GraphBuilder,
  x: string,
  weight: Param,
  bias: Param,
  name: string,
  relu: boolean,
  out?: string,
): string {
  const wName = g.constant(`${name}/w`, weight.data, weight.shape);
  const bName = g.constant(`${name}/b`, bias.data, bias.shape);
  const y = g.op("Gemm", [x, wName, bName], {}, relu ? undefined : out);
  return relu ? g.op("Relu", [y], {}, out) : y;
}

/** Mean and standard deviation over time of [B, C, T] -> [B, 2C], as moments() computes them. */
function statsPool(g: GraphBuilder, x: string): string {
  const mean = g.op("ReduceMean", [x], { axes: [2], keepdims: 1 });
  const diff = g.op("Sub", [x, mean]);
  const variance = g.op("ReduceMean", [g.op("Mul", [diff, diff])], { axes: [2], keepdims: 0 });
  const std = g.op("Sqrt", [g.op("Add", [variance, epsilon(g)])]);
  const mean2 = g.op("ReduceMean", [x], { axes: [2], keepdims: 0 });
  return g.op("Concat", [mean2, std], { axis: 1 });
}

function epsilon(g: GraphBuilder): string {
  if (!g.initializers.has("eps")) g.constant("eps", Float32Array.of(EPS), []);
  return "eps";
}

function pool(g: GraphBuilder, spec: ModelSpec, x: string, w: (name: string) => Param): string {
  return spec.pooling === "attentive"
    ? attentivePool(g, x, w("attend/w"), w("attend/b"), w("attend/v"))
    : statsPool(g, x);
}

/** Attentive statistics pooling of [B, C, T]: 1x1 convolutions score frames, softmax over time. */
function attentivePool(g: GraphBuilder, x: string, weight: Param, bias: Param, v: Param): string {
  const [c, a] = weight.shape;
  const wT = new Float32Array(a * c);
  for (let i = 0; i < c; i++) for (let j = 0; j < a; j++) wT[j * c + i] = weight.data[i * a + j];
  const hidden = g.op("Tanh", [
    g.op("Conv", [
      x,
      g.constant("attend/w", wT, [a, c, 1]),
      g.constant("attend/b", bias.data, [a]),
    ]),
  ]);
  const scores = g.op("Conv", [hidden, g.constant("attend/v", v.data, [1, a, 1])]);
  const weights = g.op("Softmax", [scores], { axis: 2 });
  const axes = g.initializers.has("time_axis") ? "time_axis" : g.ints("time_axis", [2]);
  const mean = g.op("ReduceSum", [g.op("Mul", [x, weights]), axes], { keepdims: 0 });
  const meanSquare = g.op("ReduceSum", [g.op("Mul", [g.op("Mul", [x, x]), weights]), axes], {
    keepdims: 0,
  });
  const variance = g.op("Relu", [g.op("Sub", [meanSquare, g.op("Mul", [mean, mean])])]);
  const std = g.op("Sqrt", [g.op("Add", [variance, epsilon(g)])]);
  return g.op("Concat", [mean, std], { axis: 1 });
}

/** Per-frame normalisation over channels of [B, C, T] (no learned scale, as models.ts). */
function layerNormChannels(g: GraphBuilder, x: string): string {
  const mean = g.op("ReduceMean", [x], { axes: [1], keepdims: 1 });
  const diff = g.op("Sub", [x, mean]);
  const variance = g.op("ReduceMean", [g.op("Mul", [diff, diff])], { axes: [1], keepdims: 1 });
  return g.op("Div", [diff, g.op("Sqrt", [g.op("Add", [variance, epsilon(g)])])]);
}

/**
 * The LSTM of models.ts (one matMul of [x, h] per step, gates i, f, g, o; forget-gate bias in
 * the bias) as ONNX LSTM (gates i, o, f, c; W and R transposed). [B, D, T] -> [B, H, T].
 */
function lstm(
  g: GraphBuilder,
  x: string,
  weight: Param,
  bias: Param,
  h: number,
  inputDim: number,
): string {
  const ours = { i: 0, f: 1, g: 2, o: 3 };
  const order = [ours.i, ours.o, ours.f, ours.g];
  const cols = 4 * h;
  const W = new Float32Array(4 * h * inputDim);
  const R = new Float32Array(4 * h * h);
  const B = new Float32Array(8 * h);
  order.forEach((gate, slot) => {
    for (let u = 0; u < h; u++) {
      const col = gate * h + u;
      const row = slot * h + u;
      for (let d = 0; d < inputDim; d++) W[row * inputDim + d] = weight.data[d * cols + col];
      for (let k = 0; k < h; k++) R[row * h + k] = weight.data[(inputDim + k) * cols + col];
      B[row] = bias.data[col];
    }
  });
  const seq = g.op("Transpose", [x], { perm: [2, 0, 1] }); // [T, B, D]
  const [y] = g.node(
    "LSTM",
    [
      seq,
      g.constant("lstm/W", W, [1, 4 * h, inputDim]),
      g.constant("lstm/R", R, [1, 4 * h, h]),
      g.constant("lstm/B", B, [1, 8 * h]),
    ],
    { hidden_size: h, direction: "forward" },
    [g.fresh("lstm_y")],
  );
  // Y: [T, 1, B, H] -> [B, H, T]
  const squeezed = g.op("Squeeze", [y, g.ints("lstm/axis", [1])]);
  return g.op("Transpose", [squeezed], { perm: [1, 2, 0] });
}

import * as tf from "@tensorflow/tfjs";

/**
 * Model architectures, written with the few tensor ops that train on tfjs's WASM backend (matMul,
 * slice, concat, reshape, moments, relu, sigmoid, tanh) and that map one-to-one onto ONNX later:
 * a convolution over time is a matMul over time-shifted copies of the frames (which is what a
 * TDNN is), normalisation is per-frame layer norm (no batch statistics to carry to the device),
 * and pooling is mean and standard deviation over time, so every model takes any length >= its
 * receptive field. Input: [batch, frames, features] at the extractor's 10 ms hop.
 */
export type Arch = "tdnn" | "mlp" | "cnn1d" | "lstm";

export const ARCHS: readonly Arch[] = ["tdnn", "mlp", "cnn1d", "lstm"];

export interface ModelSpec {
  arch: Arch;
  /** Features per input frame. */
  inputDim: number;
  classes: number;
  /** Width of the hidden layers. */
  hidden: number;
  /** Input frames averaged together before the first layer (20 ms at 2: emotion is slow). */
  poolFrames: number;
  dropout: number;
  /** Layer norm after each frame layer. */
  layerNorm: boolean;
  /**
   * How frames become one vector: plain mean and standard deviation over time, or attentive
   * statistics (a learned softmax weight per frame, so silences and fillers count less).
   * Absent in runs from before it existed, which means "stats".
   */
  pooling?: Pooling;
  /**
   * Subtract each utterance's own mean from every input feature but the first (MFCC c0, the
   * loudness the model keeps), inside the model: per-utterance cepstral mean normalisation, which
   * removes much of the speaker's and the microphone's fixed colouring with nothing to estimate
   * on the device. Absent means off.
   */
  utteranceMean?: boolean;
}

export type Pooling = "stats" | "attentive";

/** Width of the attention scorer's hidden layer. */
const ATTENTION_DIM = 64;

export const ARCH_DEFAULTS: Record<Arch, Omit<ModelSpec, "inputDim" | "classes">> = {
  tdnn: { arch: "tdnn", hidden: 128, poolFrames: 2, dropout: 0.3, layerNorm: false },
  mlp: { arch: "mlp", hidden: 256, poolFrames: 1, dropout: 0.3, layerNorm: false },
  cnn1d: { arch: "cnn1d", hidden: 96, poolFrames: 2, dropout: 0.3, layerNorm: false },
  lstm: { arch: "lstm", hidden: 96, poolFrames: 4, dropout: 0.3, layerNorm: false },
};

/** Time contexts (frame offsets) of each frame-level layer, per architecture. */
export function frameContexts(arch: Arch): number[][] {
  switch (arch) {
    case "tdnn": // dilated contexts, as in x-vector TDNNs
      return [[-2, -1, 0, 1, 2], [-2, 0, 2], [-3, 0, 3], [0]];
    case "cnn1d": // plain kernel-5 convolutions
      return [
        [-2, -1, 0, 1, 2],
        [-2, -1, 0, 1, 2],
        [-2, -1, 0, 1, 2],
      ];
    default:
      return [];
  }
}

/** Channels of the frame-level output that pooling summarises. */
function pooledChannels(spec: ModelSpec): number {
  return spec.arch === "tdnn" ? 2 * spec.hidden : spec.hidden;
}

/** Named parameter shapes; the order is the order of the weights file. */
export function parameterShapes(spec: ModelSpec): [string, number[]][] {
  const { arch, inputDim, hidden: h, classes } = spec;
  const shapes: [string, number[]][] = [];
  if (arch === "tdnn" || arch === "cnn1d") {
    const ctx = frameContexts(arch);
    const dims = [
      inputDim,
      ...ctx.map((_, i) => (i === ctx.length - 1 && arch === "tdnn" ? 2 * h : h)),
    ];
    ctx.forEach((c, i) => {
      shapes.push([`frame${i}/w`, [dims[i] * c.length, dims[i + 1]]]);
      shapes.push([`frame${i}/b`, [dims[i + 1]]]);
    });
    shapes.push(["embed/w", [2 * dims[dims.length - 1], h]]);
    shapes.push(["embed/b", [h]]);
  } else if (arch === "mlp") {
    shapes.push(["hidden0/w", [2 * inputDim, h]]);
    shapes.push(["hidden0/b", [h]]);
    shapes.push(["hidden1/w", [h, h / 2]]);
    shapes.push(["hidden1/b", [h / 2]]);
  } else {
    shapes.push(["lstm/w", [inputDim + h, 4 * h]]);
    shapes.push(["lstm/b", [4 * h]]);
    shapes.push(["embed/w", [2 * h, h]]);
    shapes.push(["embed/b", [h]]);
  }
  if (spec.pooling === "attentive" && arch !== "mlp") {
    const c = pooledChannels(spec);
    // Inserted before the embedding weights' consumer; order only matters for the weights file.
    const at = shapes.findIndex(([n]) => n === "embed/w");
    shapes.splice(
      at,
      0,
      ["attend/w", [c, ATTENTION_DIM]],
      ["attend/b", [ATTENTION_DIM]],
      ["attend/v", [ATTENTION_DIM, 1]],
    );
  }
  const last = arch === "mlp" ? h / 2 : h;
  shapes.push(["out/w", [last, classes]]);
  shapes.push(["out/b", [classes]]);
  return shapes;
}

export function parameterCount(spec: ModelSpec): number {
  return parameterShapes(spec).reduce((s, [, shape]) => s + shape.reduce((a, b) => a * b, 1), 0);
}

/** Frames the model needs at least (receptive field at the input rate). */
export function minFrames(spec: ModelSpec): number {
  const span = frameContexts(spec.arch).reduce((s, c) => s + Math.max(...c) - Math.min(...c), 0);
  return (span + 1) * spec.poolFrames;
}

export type Params = Map<string, tf.Tensor>;

/** Glorot-normal weights and zero biases, from a seed. */
export function initParams(spec: ModelSpec, seed: number): Map<string, tf.Variable> {
  const out = new Map<string, tf.Variable>();
  parameterShapes(spec).forEach(([name, shape], i) => {
    const init =
      shape.length === 1
        ? tf.zeros(shape)
        : tf.randomNormal(shape, 0, Math.sqrt(2 / (shape[0] + shape[1])), "float32", seed + i);
    // Unnamed: tfjs variable names are global, and a process may build several models.
    out.set(name, tf.variable(init, true));
    init.dispose();
  });
  // LSTM: forget-gate bias 1, the usual trick for trainable long memories.
  const b = out.get("lstm/b");
  if (b) {
    const h = spec.hidden;
    b.assign(tf.concat([tf.zeros([h]), tf.ones([h]), tf.zeros([2 * h])]));
  }
  return out;
}

function get(p: Params, name: string): tf.Tensor {
  const t = p.get(name);
  if (!t) throw new Error(`model parameter ${name} is missing`);
  return t;
}

/** Per-frame layer normalisation over the feature axis (no learned scale: ONNX-simple). */
function layerNorm(x: tf.Tensor2D): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, [1], true);
  return tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5))) as tf.Tensor2D;
}

/** Mean and standard deviation over time: [B, T, C] -> [B, 2C]. */
function statsPool(x: tf.Tensor3D): tf.Tensor2D {
  const { mean, variance } = tf.moments(x, [1]);
  return tf.concat([mean, tf.sqrt(tf.add(variance, 1e-5))], 1) as tf.Tensor2D;
}

/**
 * Attentive statistics pooling: score each frame with a small tanh layer, softmax the scores
 * over time, and take the weighted mean and standard deviation: [B, T, C] -> [B, 2C].
 */
function attentiveStatsPool(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor, v: tf.Tensor): tf.Tensor2D {
  const [batch, t, c] = x.shape;
  const hidden = tf.tanh(tf.add(tf.matMul(tf.reshape(x, [batch * t, c]), w), b));
  const weights = tf.reshape(tf.softmax(tf.reshape(tf.matMul(hidden, v), [batch, t])), [
    batch,
    t,
    1,
  ]);
  const mean = tf.sum(tf.mul(x, weights), 1);
  const meanSquare = tf.sum(tf.mul(tf.square(x), weights), 1);
  const variance = tf.relu(tf.sub(meanSquare, tf.square(mean)));
  return tf.concat([mean, tf.sqrt(tf.add(variance, 1e-5))], 1) as tf.Tensor2D;
}

function avgPoolTime(x: tf.Tensor3D, k: number): tf.Tensor3D {
  if (k <= 1) return x;
  const [b, t, c] = x.shape;
  const n = Math.floor(t / k);
  const cropped = tf.slice(x, [0, 0, 0], [b, n * k, c]);
  return tf.mean(tf.reshape(cropped, [b, n, k, c]), 2) as tf.Tensor3D;
}

/**
 * One frame-level layer: context splice, matMul, ReLU, and optionally layer norm. Layer norm
 * rescales every frame to unit variance, which erases loudness, a main cue of arousal; so the
 * default is none.
 */
function spliceLayer(
  x: tf.Tensor3D,
  ctx: number[],
  w: tf.Tensor,
  b: tf.Tensor,
  norm: boolean,
): tf.Tensor3D {
  const [batch, t, c] = x.shape;
  const lo = -Math.min(...ctx);
  const hi = Math.max(...ctx);
  const out = t - lo - hi;
  if (out < 1) throw new RangeError(`input of ${t} frames is too short for this model`);
  const parts = ctx.map((o) => tf.slice(x, [0, lo + o, 0], [batch, out, c]));
  const spliced = parts.length > 1 ? tf.concat(parts, 2) : parts[0];
  const y = tf.relu(tf.add(tf.matMul(tf.reshape(spliced, [batch * out, c * ctx.length]), w), b));
  const z = norm ? layerNorm(y as tf.Tensor2D) : y;
  return tf.reshape(z, [batch, out, w.shape[1] as number]) as tf.Tensor3D;
}

export interface ForwardOptions {
  training: boolean;
  /** Seed for dropout masks (varied per step by the caller for reproducible runs). */
  seed?: number;
}

/** Logits [batch, classes] for input [batch, frames, inputDim]. */
export function forward(
  spec: ModelSpec,
  p: Params,
  x: tf.Tensor3D,
  opts: ForwardOptions,
): tf.Tensor2D {
  const drop = (t: tf.Tensor2D, salt: number) =>
    opts.training && spec.dropout > 0
      ? (tf.dropout(t, spec.dropout, undefined, (opts.seed ?? 0) + salt) as tf.Tensor2D)
      : t;
  let h = avgPoolTime(spec.utteranceMean ? subtractUtteranceMean(x) : x, spec.poolFrames);
  let pooled: tf.Tensor2D;
  const pool = (frames: tf.Tensor3D) =>
    spec.pooling === "attentive"
      ? attentiveStatsPool(frames, get(p, "attend/w"), get(p, "attend/b"), get(p, "attend/v"))
      : statsPool(frames);
  if (spec.arch === "tdnn" || spec.arch === "cnn1d") {
    frameContexts(spec.arch).forEach((ctx, i) => {
      h = spliceLayer(h, ctx, get(p, `frame${i}/w`), get(p, `frame${i}/b`), spec.layerNorm);
      // Dropout on frame features too: a few hundred clips are memorised within epochs otherwise.
      if (opts.training && spec.dropout > 0 && i < 2) {
        h = tf.dropout(h, spec.dropout / 2, undefined, (opts.seed ?? 0) + 10 + i) as tf.Tensor3D;
      }
    });
    pooled = pool(h);
    pooled = dense(pooled, get(p, "embed/w"), get(p, "embed/b"));
  } else if (spec.arch === "mlp") {
    // The reference projects' recipe: utterance-level statistics, then dense layers.
    pooled = statsPool(h);
    pooled = drop(dense(pooled, get(p, "hidden0/w"), get(p, "hidden0/b")), 1);
    pooled = dense(pooled, get(p, "hidden1/w"), get(p, "hidden1/b"));
  } else {
    pooled = pool(lstm(h, get(p, "lstm/w"), get(p, "lstm/b"), spec.hidden));
    pooled = dense(pooled, get(p, "embed/w"), get(p, "embed/b"));
  }
  return tf.add(tf.matMul(drop(pooled, 2), get(p, "out/w")), get(p, "out/b")) as tf.Tensor2D;
}

/** x [B, T, D] minus its mean over time, for every column but the first. */
export function subtractUtteranceMean(x: tf.Tensor3D): tf.Tensor3D {
  return tf.tidy(() => {
    const d = x.shape[2];
    const mask = tf.tensor1d(Array.from({ length: d }, (_, c) => (c === 0 ? 0 : 1)));
    return tf.sub(x, tf.mul(tf.mean(x, 1, true), mask)) as tf.Tensor3D;
  });
}

/** relu(x W + b). */
function dense(x: tf.Tensor2D, w: tf.Tensor, b: tf.Tensor): tf.Tensor2D {
  return tf.relu(tf.add(tf.matMul(x, w as tf.Tensor2D), b)) as tf.Tensor2D;
}

/** A plain LSTM over time (gates i, f, g, o in one matMul per step); returns all outputs. */
function lstm(x: tf.Tensor3D, w: tf.Tensor, b: tf.Tensor, h: number): tf.Tensor3D {
  const [batch, t] = x.shape;
  let hPrev: tf.Tensor2D = tf.zeros([batch, h]);
  let cPrev: tf.Tensor2D = tf.zeros([batch, h]);
  const outs: tf.Tensor2D[] = [];
  for (let s = 0; s < t; s++) {
    const xt = tf.reshape(tf.slice(x, [0, s, 0], [batch, 1, x.shape[2]]), [batch, x.shape[2]]);
    const z = tf.add(tf.matMul(tf.concat([xt, hPrev], 1), w), b);
    const [i, f, g, o] = tf.split(z, 4, 1);
    const c = tf.add(
      tf.mul(tf.sigmoid(f), cPrev),
      tf.mul(tf.sigmoid(i), tf.tanh(g)),
    ) as tf.Tensor2D;
    hPrev = tf.mul(tf.sigmoid(o), tf.tanh(c)) as tf.Tensor2D;
    cPrev = c;
    outs.push(hPrev);
  }
  return tf.stack(outs, 1) as tf.Tensor3D;
}

import * as tf from "@tensorflow/tfjs";
import { createRng, seedFrom } from "../augment/index.js";
import { type Metrics, metricsFromScores } from "../eval/metrics.js";
import type { EpochRecord } from "../eval/report.js";
import { type Batch, classWeights, cropFrames, type Example, mixBatch } from "./batches.js";
import { forward, initParams, type ModelSpec, minFrames } from "./models.js";

export interface LoopConfig {
  epochs: number;
  batchSize: number;
  /** Peak learning rate (Adam). */
  lr: number;
  /** Epochs of linear warm-up before the cosine decay to lr * lrFloor. */
  warmupEpochs: number;
  lrFloor: number;
  /** Stop after this many epochs without a better validation UAR. */
  patience: number;
  /** Training window in frames (random crop per epoch). */
  crop: number;
  classBalanced: boolean;
  seed: number;
  /**
   * Stochastic weight averaging: the model is the mean of the weights after each of the last
   * `swa` fraction of the epochs (e.g. 0.3), with no early stopping and no choice of epoch by
   * validation UAR. Absent: the epoch with the best validation UAR.
   */
  swa?: number;
  /** Mixup: each batch is blended with a shuffled copy of itself, lambda ~ Beta(a, a). Absent: off. */
  mixup?: number;
  /** Label smoothing of the targets (e.g. 0.1). Absent: off. */
  labelSmoothing?: number;
  /**
   * Decoupled weight decay (AdamW): after every step each weight matrix shrinks by
   * lr * weightDecay; biases (rank 1) are left alone. Absent: off.
   */
  weightDecay?: number;
}

/** Where the training windows of an epoch come from: augmented by a worker, or plain crops. */
export type EpochSource = (epoch: number) => Promise<Float32Array>;

export interface LoopState {
  epoch: number;
  bestUar: number;
  bestEpoch: number;
  history: EpochRecord[];
}

export interface LoopHooks {
  /** After every epoch, with the weights as they are now (checkpointing). */
  onEpoch?: (
    state: LoopState,
    params: Map<string, tf.Variable>,
    optimizer: tf.AdamOptimizer,
    average: { values: Map<string, Float64Array>; count: number },
  ) => Promise<void>;
  log?: (line: string) => void;
}

export function learningRate(cfg: LoopConfig, epoch: number): number {
  if (epoch < cfg.warmupEpochs) return (cfg.lr * (epoch + 1)) / (cfg.warmupEpochs + 1);
  const span = Math.max(1, cfg.epochs - cfg.warmupEpochs);
  const progress = Math.min(1, (epoch - cfg.warmupEpochs) / span);
  return cfg.lr * (cfg.lrFloor + (1 - cfg.lrFloor) * 0.5 * (1 + Math.cos(Math.PI * progress)));
}

/** Class probabilities of one utterance at full length (what the device does). */
export function predict(
  spec: ModelSpec,
  params: Map<string, tf.Tensor>,
  ex: Example,
): Float32Array {
  const need = minFrames(spec);
  let x = ex.x;
  let frames = ex.frames;
  if (frames < need) {
    x = cropFrames(ex.x, ex.frames, spec.inputDim, need, null);
    frames = need;
  }
  return tf.tidy(() => {
    const logits = forward(spec, params, tf.tensor3d(x, [1, frames, spec.inputDim]), {
      training: false,
    });
    return tf.softmax(logits).dataSync() as Float32Array;
  });
}

export function evaluateSet(
  spec: ModelSpec,
  params: Map<string, tf.Tensor>,
  set: Example[],
  labels: string[],
): { metrics: Metrics; loss: number; scores: Float32Array[] } {
  const scores = set.map((ex) => predict(spec, params, ex));
  let loss = 0;
  scores.forEach((s, i) => {
    loss -= Math.log(Math.max(1e-12, s[set[i].label]));
  });
  return {
    metrics: metricsFromScores(
      set.map((e) => e.label),
      scores.map((s) => Array.from(s)),
      labels,
    ),
    loss: loss / Math.max(1, set.length),
    scores,
  };
}

/**
 * Mini-batch training with a class-balanced cross-entropy, warm-up + cosine learning rate, and
 * early stopping on validation UAR; returns the best weights (as plain arrays) and the history.
 * Without a validation set it trains exactly `epochs` epochs and returns the last weights.
 * `resume` continues a checkpointed run: its epochs are skipped, seeds stay per epoch.
 */
export async function trainLoop(
  spec: ModelSpec,
  cfg: LoopConfig,
  train: Example[],
  validation: Example[],
  labels: string[],
  source: EpochSource,
  hooks: LoopHooks = {},
  resume?: {
    state: LoopState;
    params: Map<string, tf.Tensor>;
    optimizer?: { name: string; tensor: tf.Tensor }[];
    /** The weight average so far (runs with `swa`). */
    average?: { values: Map<string, Float32Array>; count: number };
  },
): Promise<{
  best: Map<string, Float32Array>;
  state: LoopState;
  params: Map<string, tf.Variable>;
  average: { values: Map<string, Float64Array>; count: number };
}> {
  const log = hooks.log ?? (() => {});
  const params = initParams(spec, cfg.seed);
  if (resume) for (const [k, v] of resume.params) params.get(k)?.assign(v);
  const vars = [...params.values()];
  // Matrices only: decaying a bias shifts the model without regularising it.
  const decayed = vars.filter((v) => v.rank >= 2);
  const optimizer = tf.train.adam(cfg.lr);
  if (resume?.optimizer) await optimizer.setWeights(resume.optimizer);
  const weights = cfg.classBalanced
    ? classWeights(
        train.map((e) => e.label),
        labels.length,
      )
    : labels.map(() => 1);
  const state: LoopState = resume?.state ?? { epoch: -1, bestUar: -1, bestEpoch: -1, history: [] };
  const snapshot = () =>
    new Map([...params].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));
  let best = resume ? snapshot() : new Map<string, Float32Array>();
  const swaFrom = cfg.swa
    ? Math.max(0, Math.floor(cfg.epochs * (1 - cfg.swa)))
    : Number.POSITIVE_INFINITY;
  // Running mean of the weights (float64: hundreds of small updates), restored on resume.
  const average = new Map<string, Float64Array>();
  let averaged = 0;
  if (resume?.average) {
    for (const [k, v] of resume.average.values) average.set(k, Float64Array.from(v));
    averaged = resume.average.count;
  }
  const width = spec.inputDim;
  let next = source(state.epoch + 1);

  for (let epoch = state.epoch + 1; epoch < cfg.epochs; epoch++) {
    const t0 = performance.now();
    const data = await next;
    if (epoch + 1 < cfg.epochs) next = source(epoch + 1);
    const lr = learningRate(cfg, epoch);
    // tfjs keeps the rate in a field without a setter; the optimiser state must survive, so set it.
    (optimizer as unknown as { learningRate: number }).learningRate = lr;
    const rng = createRng(seedFrom(cfg.seed, "order", epoch));
    const order = rng.shuffle(train.map((_, i) => i));
    let lossSum = 0;
    let batches = 0;
    for (let b = 0; b < order.length; b += cfg.batchSize) {
      const idx = order.slice(b, b + cfg.batchSize);
      const xb = new Float32Array(idx.length * cfg.crop * width);
      const yb = new Float32Array(idx.length * labels.length);
      idx.forEach((i, j) => {
        xb.set(
          data.subarray(i * cfg.crop * width, (i + 1) * cfg.crop * width),
          j * cfg.crop * width,
        );
        yb[j * labels.length + train[i].label] = 1;
      });
      let batch: Batch = {
        x: xb,
        y: yb,
        w: Float32Array.from(idx, (i) => weights[train[i].label]),
      };
      if (cfg.mixup) {
        const mixRng = createRng(seedFrom(cfg.seed, "mixup", epoch, b));
        const lambda = mixRng.beta(cfg.mixup, cfg.mixup);
        // max(l, 1 - l): each example stays the larger part of its blend, so no target is mostly
        // another example's.
        const partner = mixRng.shuffle(idx.map((_, j) => j));
        batch = mixBatch(batch, partner, Math.max(lambda, 1 - lambda));
      }
      const { x: bx, y: by, w: bw } = batch;
      const loss = tf.tidy(() => {
        const x = tf.tensor3d(bx, [idx.length, cfg.crop, width]);
        const y = tf.tensor2d(by, [idx.length, labels.length]);
        const w = tf.tensor1d(bw);
        const seed = seedFrom(cfg.seed, "dropout", epoch, b);
        return optimizer.minimize(
          () =>
            tf.losses.softmaxCrossEntropy(
              y,
              forward(spec, params, x, { training: true, seed }),
              w,
              cfg.labelSmoothing ?? 0,
            ) as tf.Scalar,
          true,
          vars,
        ) as tf.Scalar;
      });
      if (cfg.weightDecay) {
        const keep = 1 - lr * cfg.weightDecay;
        tf.tidy(() => {
          for (const v of decayed) v.assign(v.mul(keep));
        });
      }
      lossSum += (await loss.data())[0];
      loss.dispose();
      batches++;
    }
    const record: EpochRecord = {
      // 1-based in everything a person reads (logs, history, report); `epoch` counts from 0.
      epoch: epoch + 1,
      trainLoss: lossSum / Math.max(1, batches),
      lr,
      seconds: (performance.now() - t0) / 1000,
    };
    state.epoch = epoch;
    let line =
      `epoch ${String(epoch + 1).padStart(3)}/${cfg.epochs}  loss ${record.trainLoss.toFixed(3)}  ` +
      `lr ${lr.toExponential(1)}  ${record.seconds?.toFixed(1)} s`;
    if (validation.length > 0) {
      const val = evaluateSet(spec, params, validation, labels);
      record.valLoss = val.loss;
      record.valUar = val.metrics.uar;
      if (val.metrics.uar > state.bestUar) {
        state.bestUar = val.metrics.uar;
        state.bestEpoch = epoch;
        best = snapshot();
      }
      line +=
        `  val loss ${val.loss.toFixed(3)}  val UAR ${(100 * val.metrics.uar).toFixed(1)}%  ` +
        `acc ${(100 * val.metrics.accuracy).toFixed(1)}%${state.bestEpoch === epoch ? "  *best" : ""}`;
    } else if (epoch + 1 === cfg.epochs) {
      // No validation set (a final model on every speaker): the last epoch is the model.
      state.bestEpoch = epoch;
      best = snapshot();
    }
    if (epoch >= swaFrom) {
      averaged++;
      for (const [k, v] of params) {
        const now = v.dataSync();
        const avg = average.get(k) ?? new Float64Array(now.length);
        for (let i = 0; i < now.length; i++) avg[i] += (now[i] - avg[i]) / averaged;
        average.set(k, avg);
      }
      line += `  (averaging ${averaged})`;
    }
    state.history.push(record);
    log(line);
    await hooks.onEpoch?.(state, params, optimizer, { values: average, count: averaged });
    if (!cfg.swa && validation.length > 0 && epoch - state.bestEpoch >= cfg.patience) {
      log(`early stop: no better validation UAR for ${cfg.patience} epochs`);
      break;
    }
  }
  optimizer.dispose();
  if (cfg.swa) {
    if (averaged === 0) throw new Error("weight averaging saw no epoch: raise --epochs");
    best = new Map([...average].map(([k, v]) => [k, Float32Array.from(v)]));
    state.bestEpoch = state.epoch;
  }
  return { best, state, params, average: { values: average, count: averaged } };
}

import type { Rng } from "../augment/index.js";

/** One utterance ready for the model: normalised frame-major features and a class index. */
export interface Example {
  x: Float32Array;
  frames: number;
  label: number;
  /** Where it came from (clip path), for reports and debugging. */
  id: string;
}

/**
 * A fixed-length window of `crop` frames: a random one from longer utterances (a different part
 * every epoch), the utterance repeated to fill the window for shorter ones (zeros would teach the
 * model that silence is a class cue).
 */
export function cropFrames(
  x: Float32Array,
  frames: number,
  width: number,
  crop: number,
  rng: Rng | null,
): Float32Array {
  const out = new Float32Array(crop * width);
  if (frames >= crop) {
    const start = rng ? rng.int(frames - crop + 1) : Math.floor((frames - crop) / 2);
    out.set(x.subarray(start * width, (start + crop) * width));
    return out;
  }
  if (frames === 0) return out;
  for (let t = 0; t < crop; t++) {
    const s = t % frames;
    out.set(x.subarray(s * width, (s + 1) * width), t * width);
  }
  return out;
}

/** Inverse-frequency class weights, mean 1 over the examples: balanced loss. */
export function classWeights(labels: number[], classes: number): number[] {
  const counts = new Array<number>(classes).fill(0);
  for (const l of labels) counts[l]++;
  const present = counts.filter((c) => c > 0).length;
  return counts.map((c) => (c > 0 ? labels.length / (present * c) : 0));
}

/** A training batch as the loss sees it: inputs, target distributions and per-example weights. */
export interface Batch {
  /** `n` rows of `rowSize` values (frames x features). */
  x: Float32Array;
  /** `n` rows of `classes` probabilities (one-hot before mixing). */
  y: Float32Array;
  w: Float32Array;
}

/**
 * Mixup (Zhang et al. 2018): every example becomes `lambda` of itself plus `1 - lambda` of
 * example `partner[i]`, inputs, targets and class weights alike, so the model sees blends of
 * speakers and emotions between the training points instead of memorising each clip.
 */
export function mixBatch(batch: Batch, partner: readonly number[], lambda: number): Batch {
  const n = partner.length;
  const row = batch.x.length / n;
  const classes = batch.y.length / n;
  const mix = (from: Float32Array, width: number) => {
    const out = new Float32Array(from.length);
    for (let i = 0; i < n; i++) {
      const a = i * width;
      const b = partner[i] * width;
      for (let k = 0; k < width; k++)
        out[a + k] = lambda * from[a + k] + (1 - lambda) * from[b + k];
    }
    return out;
  };
  return { x: mix(batch.x, row), y: mix(batch.y, classes), w: mix(batch.w, 1) };
}

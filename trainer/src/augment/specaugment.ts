import type { Rng } from "./random.js";

export interface SpecAugmentOptions {
  /** Number of time masks (runs of whole frames). */
  timeMasks: number;
  /** Each time mask is 1..maxTimeWidth frames wide (uniform). */
  maxTimeWidth: number;
  /** Number of frequency masks (runs of feature columns). */
  freqMasks: number;
  /** Each frequency mask is 1..maxFreqWidth columns wide (uniform). */
  maxFreqWidth: number;
  /**
   * "zero": masked cells become 0 (right for per-coefficient normalised features, whose mean
   * is 0). "mean": each masked cell becomes its column's mean over the clip, right for raw
   * log-mel/MFCC whose columns have very different scales (MFCC c0 sits near -300).
   */
  fill: "mean" | "zero";
}

/** A mask run: [start, start + width). */
export interface MaskRun {
  start: number;
  width: number;
}

export interface SpecAugmentMasks {
  time: MaskRun[];
  freq: MaskRun[];
}

function drawRuns(count: number, maxWidth: number, size: number, rng: Rng): MaskRun[] {
  const runs: MaskRun[] = [];
  if (size === 0 || maxWidth < 1) return runs;
  for (let m = 0; m < count; m++) {
    // Widths are 1..max (SpecAugment draws 0..max; a zero-width mask only makes counts vague).
    const width = Math.min(size, rng.intBetween(1, maxWidth));
    runs.push({ start: rng.int(size - width + 1), width });
  }
  return runs;
}

/** Draw mask positions (time masks first, then frequency masks). Masks may overlap. */
export function drawSpecAugmentMasks(
  frames: number,
  width: number,
  options: SpecAugmentOptions,
  rng: Rng,
): SpecAugmentMasks {
  return {
    time: drawRuns(options.timeMasks, options.maxTimeWidth, frames, rng),
    freq: drawRuns(options.freqMasks, options.maxFreqWidth, width, rng),
  };
}

/** A copy of x (frame-major, frames x width) with the given masks filled. */
export function applySpecAugmentMasks(
  x: Float32Array,
  width: number,
  masks: SpecAugmentMasks,
  fill: SpecAugmentOptions["fill"],
): Float32Array {
  const frames = checkShape(x, width);
  const values = new Float32Array(width);
  if (fill === "mean" && frames > 0) {
    const sums = new Float64Array(width);
    for (let t = 0; t < frames; t++) for (let f = 0; f < width; f++) sums[f] += x[t * width + f];
    for (let f = 0; f < width; f++) values[f] = sums[f] / frames;
  }
  const out = new Float32Array(x);
  for (const { start, width: w } of masks.time) {
    for (let t = start; t < start + w; t++) out.set(values, t * width);
  }
  for (const { start, width: w } of masks.freq) {
    for (let t = 0; t < frames; t++) {
      for (let f = start; f < start + w; f++) out[t * width + f] = values[f];
    }
  }
  return out;
}

/**
 * SpecAugment (Park et al. 2019) time and frequency masking on a frame-major feature matrix
 * (frames x width). Time warping is left out: it is the costliest part and gave the least in the
 * paper's ablation. Returns a new array; x is not modified.
 */
export function specAugment(
  x: Float32Array,
  width: number,
  options: SpecAugmentOptions,
  rng: Rng,
): Float32Array {
  const frames = checkShape(x, width);
  return applySpecAugmentMasks(
    x,
    width,
    drawSpecAugmentMasks(frames, width, options, rng),
    options.fill,
  );
}

function checkShape(x: Float32Array, width: number): number {
  if (!Number.isInteger(width) || width < 1 || x.length % width !== 0) {
    throw new RangeError(`feature length ${x.length} is not a multiple of width ${width}`);
  }
  return x.length / width;
}

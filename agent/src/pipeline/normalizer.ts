import { applyStats, type ColumnStats } from "../features/normalize.js";

/** Maps a model's raw feature frames (frame-major, [frames, width]) to what the model saw. */
export interface Normalizer {
  apply(x: Float32Array, frames: number): Float32Array;
}

/** A normaliser with fixed per-column statistics, which it exposes for reports and tests. */
export interface StatsNormalizer extends Normalizer {
  readonly stats: ColumnStats;
}

/** Global normalisation with given statistics (a manifest's mean/std). */
export function fixedStats(mean: ArrayLike<number>, std: ArrayLike<number>): StatsNormalizer {
  if (mean.length !== std.length) {
    throw new RangeError(`mean has ${mean.length} columns, std has ${std.length}`);
  }
  const stats: ColumnStats = { mean: Float64Array.from(mean), std: Float64Array.from(std) };
  const width = mean.length;
  return {
    stats,
    apply(x, frames) {
      if (x.length !== frames * width) {
        throw new RangeError(`expected ${frames} x ${width} values, got ${x.length}`);
      }
      return applyStats(x, width, stats);
    },
  };
}

/**
 * One speaker's statistics pooled over several utterances: equal to columnStats over their
 * concatenation (same summation order), without making the concatenated copy.
 */
export function statsFromFiles(featureMatrices: Float32Array[], width: number): StatsNormalizer {
  const mean = new Float64Array(width);
  const std = new Float64Array(width);
  let frames = 0;
  for (const x of featureMatrices) {
    if (x.length % width !== 0)
      throw new RangeError(`${x.length} values is not a multiple of ${width}`);
    for (let i = 0; i < x.length; i += width) for (let c = 0; c < width; c++) mean[c] += x[i + c];
    frames += x.length / width;
  }
  if (frames === 0) throw new RangeError("no feature frames to compute statistics from");
  for (let c = 0; c < width; c++) mean[c] /= frames;
  for (const x of featureMatrices) {
    for (let i = 0; i < x.length; i += width) {
      for (let c = 0; c < width; c++) {
        const d = x[i + c] - mean[c];
        std[c] += d * d;
      }
    }
  }
  for (let c = 0; c < width; c++) std[c] = Math.sqrt(std[c] / frames);
  return fixedStats(mean, std);
}

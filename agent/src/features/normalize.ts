/** Per-coefficient statistics and normalisation of frame-major matrices (frames x width). */

export interface ColumnStats {
  mean: Float64Array;
  std: Float64Array;
}

/** Mean and population standard deviation of every column over the frames. */
export function columnStats(x: Float32Array, width: number): ColumnStats {
  const frames = x.length / width;
  const mean = new Float64Array(width);
  const std = new Float64Array(width);
  if (frames === 0) return { mean, std };
  for (let t = 0; t < frames; t++) for (let c = 0; c < width; c++) mean[c] += x[t * width + c];
  for (let c = 0; c < width; c++) mean[c] /= frames;
  for (let t = 0; t < frames; t++) {
    for (let c = 0; c < width; c++) {
      const d = x[t * width + c] - mean[c];
      std[c] += d * d;
    }
  }
  for (let c = 0; c < width; c++) std[c] = Math.sqrt(std[c] / frames);
  return { mean, std };
}

/** (x - mean) / max(std, eps), column by column; a new matrix. */
export function applyStats(
  x: Float32Array,
  width: number,
  stats: ColumnStats,
  eps = 1e-8,
): Float32Array {
  if (stats.mean.length !== width || stats.std.length !== width) {
    throw new RangeError(`statistics have ${stats.mean.length} columns, features have ${width}`);
  }
  const out = new Float32Array(x.length);
  const frames = x.length / width;
  for (let c = 0; c < width; c++) {
    const m = stats.mean[c];
    const s = 1 / Math.max(stats.std[c], eps);
    for (let t = 0; t < frames; t++) out[t * width + c] = (x[t * width + c] - m) * s;
  }
  return out;
}

/** Per-utterance mean and variance normalisation (CMVN): every column to mean 0, std 1. */
export function normalizeUtterance(x: Float32Array, width: number, eps = 1e-8): Float32Array {
  return applyStats(x, width, columnStats(x, width), eps);
}

/** Frame-wise concatenation of matrices with the same frame count, e.g. [mfcc, delta, delta2]. */
export function stackColumns(parts: { data: Float32Array; width: number }[]): {
  data: Float32Array;
  width: number;
} {
  const width = parts.reduce((s, p) => s + p.width, 0);
  const frames = parts.length ? parts[0].data.length / parts[0].width : 0;
  for (const p of parts) {
    if (p.data.length / p.width !== frames) throw new RangeError("frame counts differ");
  }
  const data = new Float32Array(frames * width);
  for (let t = 0; t < frames; t++) {
    let o = t * width;
    for (const p of parts) {
      data.set(p.data.subarray(t * p.width, (t + 1) * p.width), o);
      o += p.width;
    }
  }
  return { data, width };
}

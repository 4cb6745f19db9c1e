import {
  type FeatureExtractor,
  type Representation,
  representFrames,
} from "@ser-edge/agent/features";

/**
 * What the model sees per frame is the agent's (features/representation.ts: "mfcc", "mel",
 * "mfcc+pitch"), so a device computes exactly what the model was trained on. Normalisation is
 * global (statistics of the training split, shipped in the manifest), not per utterance:
 * per-utterance CMVN erases loudness and pitch range, which carry emotion (measured here: 17%
 * vs 32% validation UAR after one epoch of the TDNN on RAVDESS).
 */
export {
  isRepresentation,
  REPRESENTATIONS,
  type Representation,
  representationWidth,
} from "@ser-edge/agent/features";

export function represent(
  samples: Float32Array,
  kind: Representation,
  extractor: FeatureExtractor,
): Float32Array {
  return representFrames(samples, kind, extractor).x;
}

/** Per-column mean and standard deviation over all frames of all matrices. */
export function globalStats(
  matrices: Float32Array[],
  width: number,
): { mean: number[]; std: number[] } {
  const sum = new Float64Array(width);
  const sq = new Float64Array(width);
  let n = 0;
  for (const m of matrices) {
    for (let i = 0; i < m.length; i += width) {
      for (let c = 0; c < width; c++) {
        sum[c] += m[i + c];
        sq[c] += m[i + c] * m[i + c];
      }
      n++;
    }
  }
  const mean = Array.from(sum, (s) => s / Math.max(1, n));
  const std = Array.from(sq, (s, c) =>
    Math.sqrt(Math.max(s / Math.max(1, n) - mean[c] ** 2, 1e-12)),
  );
  return { mean, std };
}

/** (x - mean) / std per column, in place. */
export function normalizeInPlace(x: Float32Array, stats: { mean: number[]; std: number[] }): void {
  const w = stats.mean.length;
  for (let i = 0; i < x.length; i++) {
    const c = i % w;
    x[i] = (x[i] - stats.mean[c]) / stats.std[c];
  }
}

import { type Manifest, ModelRunner } from "@ser-edge/agent/model";
import { type Metrics, metricsFromScores } from "../eval/metrics.js";
import type { Example } from "../train/batches.js";

/**
 * Scores examples with an ONNX model through the agent's own runner (ONNX Runtime, one thread,
 * short clips repeated to the minimum length), so export measures what a device computes.
 */
export async function scoreOnnx(
  modelBytes: Uint8Array,
  manifest: Manifest,
  set: Example[],
): Promise<Float32Array[]> {
  const runner = await ModelRunner.create(modelBytes, manifest);
  try {
    const out: Float32Array[] = [];
    for (const ex of set) out.push((await runner.probabilities(ex.x, ex.frames)).slice());
    return out;
  } finally {
    await runner.release();
  }
}

export function metricsOf(scores: Float32Array[], set: Example[], labels: string[]): Metrics {
  return metricsFromScores(
    set.map((e) => e.label),
    scores.map((s) => Array.from(s)),
    labels,
  );
}

/** Largest absolute difference between two score lists (same clips, same order). */
export function maxScoreDiff(a: Float32Array[], b: Float32Array[]): number {
  let d = 0;
  a.forEach((s, i) => {
    s.forEach((v, j) => {
      d = Math.max(d, Math.abs(v - b[i][j]));
    });
  });
  return d;
}

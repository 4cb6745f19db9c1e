import type { ModelRunner } from "../model/runner.js";

export interface Classification {
  label: string;
  /** Probability of `label`. */
  confidence: number;
  /** Every label's probability, unrounded, in the manifest's label order. */
  scores: Record<string, number>;
}

/** Runs normalised frames through the model and picks the most probable label. */
export async function classifyUtterance(
  runner: ModelRunner,
  x: Float32Array,
  frames: number,
): Promise<Classification> {
  const labels = runner.manifest.labels;
  const probs = await runner.probabilities(x, frames);
  if (probs.length !== labels.length) {
    throw new Error(`the model gave ${probs.length} probabilities for ${labels.length} labels`);
  }
  let best = 0;
  for (let i = 1; i < probs.length; i++) if (probs[i] > probs[best]) best = i;
  const scores: Record<string, number> = {};
  labels.forEach((l, i) => {
    scores[l] = probs[i];
  });
  return { label: labels[best], confidence: probs[best], scores };
}

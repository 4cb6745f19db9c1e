import { ModelError } from "./errors.js";
import type { ModelRunner } from "./runner.js";

/**
 * Runs the manifest's reference cases (already normalised frames) and throws "self-test-failed"
 * unless every probability is within the case's tolerance of what the trainer measured: a wrong
 * ONNX Runtime build or a damaged model must fail here, not silently mislabel speech.
 */
export async function selfTest(
  runner: ModelRunner,
  path: string = runner.manifest.model.file,
): Promise<void> {
  let worst: { description: string; diff: number; tolerance: number } | undefined;
  for (const c of runner.manifest.reference) {
    const probs = await runner.probabilities(Float32Array.from(c.input), c.frames);
    let diff = probs.length === c.expected.length ? 0 : Number.POSITIVE_INFINITY;
    for (let i = 0; i < c.expected.length && i < probs.length; i++) {
      const d = Math.abs(probs[i] - c.expected[i]);
      // NaN compares false: count it as the worst possible difference.
      diff = Math.max(diff, Number.isNaN(d) ? Number.POSITIVE_INFINITY : d);
    }
    const excess = diff - c.tolerance;
    if (excess > 0 && (!worst || excess > worst.diff - worst.tolerance)) {
      worst = { description: c.description, diff, tolerance: c.tolerance };
    }
  }
  if (worst) {
    throw new ModelError(
      "self-test-failed",
      path,
      `self-test failed on reference case "${worst.description}": a probability differs by ${worst.diff.toPrecision(3)} (tolerance ${worst.tolerance}); the model or ONNX Runtime on this machine does not compute what the trainer measured; re-export the bundle or reinstall onnxruntime-node`,
    );
  }
}

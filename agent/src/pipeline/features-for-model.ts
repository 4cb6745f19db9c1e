import {
  type FeatureExtractor,
  featureParamsKey,
  representFrames,
  resolveFeatureParams,
} from "../features/index.js";
import type { Manifest } from "../model/manifest.js";

/**
 * The model's raw (unnormalised) input for one utterance: the manifest's representation,
 * frame-major [frames, width]. `extractor` must have been built from manifest.features.
 */
export function modelInput(
  samples: Float32Array,
  manifest: Manifest,
  extractor: FeatureExtractor,
): { x: Float32Array; frames: number } {
  // Features computed with other parameters would be a silently different input.
  if (
    featureParamsKey(extractor.params) !== featureParamsKey(resolveFeatureParams(manifest.features))
  ) {
    throw new Error("the feature extractor was not built from the manifest's feature parameters");
  }
  const { x, frames } = representFrames(samples, manifest.representation, extractor);
  const width = manifest.input.shape.at(-1);
  if (typeof width !== "number" || x.length !== frames * width) {
    throw new Error(
      `the manifest's input width ${String(width)} does not match its ${manifest.representation} features (${x.length / frames} per frame); re-export the bundle`,
    );
  }
  return { x, frames };
}

import { extractFeatures, type FeatureExtractor } from "./extractor.js";
import type { FeatureParams } from "./params.js";
import { PITCH_FEATURES, pitchFeatures } from "./pitch.js";

/**
 * What a model sees per frame, computed here for the trainer and the agent alike, so that
 * a model's input on the device is exactly what it was trained on:
 * - "mfcc": n_mfcc coefficients;
 * - "mel": the dB mel spectrogram (n_mels);
 * - "mfcc+pitch": the MFCCs, then log2(F0 / 100 Hz) (0 when unvoiced) and the voicing
 *   (pitch.ts).
 */
export type Representation = "mfcc" | "mel" | "mfcc+pitch";

export const REPRESENTATIONS: readonly Representation[] = ["mfcc", "mel", "mfcc+pitch"];

export function isRepresentation(v: unknown): v is Representation {
  return REPRESENTATIONS.includes(v as Representation);
}

/** Values per frame. */
export function representationWidth(kind: Representation, params: FeatureParams): number {
  if (kind === "mel") return params.nMels;
  return kind === "mfcc+pitch" ? params.nMfcc + PITCH_FEATURES : params.nMfcc;
}

/** One utterance's frames, frame-major [frames x representationWidth]. */
export function representFrames(
  samples: Float32Array,
  kind: Representation,
  extractor: FeatureExtractor,
): { x: Float32Array; frames: number } {
  const f = extractFeatures(samples, extractor);
  if (kind === "mfcc") return { x: f.mfcc, frames: f.frames };
  if (kind === "mel") return { x: f.melDb, frames: f.frames };
  const nMfcc = extractor.params.nMfcc;
  const pitch = pitchFeatures(samples, extractor.params);
  if (pitch.length !== f.frames * PITCH_FEATURES) {
    throw new Error(`pitch frames ${pitch.length / PITCH_FEATURES} != feature frames ${f.frames}`);
  }
  const width = nMfcc + PITCH_FEATURES;
  const x = new Float32Array(f.frames * width);
  const mfcc = f.mfcc;
  // Index loops: a subarray view per frame would be two allocations per 10 ms.
  for (let t = 0, at = 0; t < f.frames; t++) {
    for (let j = 0; j < nMfcc; j++) x[at++] = mfcc[t * nMfcc + j];
    for (let j = 0; j < PITCH_FEATURES; j++) x[at++] = pitch[t * PITCH_FEATURES + j];
  }
  return { x, frames: f.frames };
}

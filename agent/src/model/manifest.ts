import type { FeatureParams } from "../features/params.js";
import type { Representation } from "../features/representation.js";

/**
 * A model bundle's manifest: everything the device needs to compute the model's input exactly as
 * in training, to interpret its output, and to decide whether to trust it. The trainer writes it;
 * the agent configures itself from it and from nothing else.
 */
export const MANIFEST_SCHEMA = "ser-edge/manifest@1";

export interface TensorSpec {
  name: string;
  /** Element type as ONNX Runtime names it ("float32"). */
  type: "float32";
  /** Fixed sizes as numbers; dynamic axes as their symbolic names ("batch", "frames"). */
  shape: (number | string)[];
}

export interface Normalization {
  /**
   * "global": subtract mean and divide by std, both fixed here (from the training split).
   * "speaker": the model was trained with each speaker's own statistics; a device estimates them
   * from the voices it hears and starts from the mean/std given here.
   */
  kind: "global" | "speaker";
  mean: number[];
  std: number[];
}

export interface ReferenceCase {
  /** What the input is (e.g. "ravdess 03-01-05-01-01-01-17, 312 frames" or "synthetic"). */
  description: string;
  /** Input frames, row-major [frames, features] after normalisation: what the model sees. */
  frames: number;
  input: number[];
  /** Expected probabilities, and how close a device's must be. */
  expected: number[];
  tolerance: number;
}

export interface SplitSummary {
  speakers: string[];
  clips: number;
  labelCounts: Record<string, number>;
}

export interface SetMetrics {
  uar: number;
  accuracy: number;
  macroF1: number;
  clips: number;
  /** Rows: true label, columns: predicted, in `labels` order. */
  confusion: number[][];
}

export interface Manifest {
  schema: typeof MANIFEST_SCHEMA;
  name: string;
  /** Semantic version of this model (not of the software). */
  version: string;
  createdAt: string;
  labels: string[];
  /**
   * "mfcc": nMfcc coefficients per frame; "mel": nMels dB bands per frame; "mfcc+pitch": the
   * MFCCs, then log2(F0 / 100 Hz) and voicing (features/representation.ts).
   */
  representation: Representation;
  features: FeatureParams;
  normalization: Normalization;
  /** Shortest input, in feature frames, that the graph accepts. */
  minFrames: number;
  /**
   * What happened to the audio before features in training. vadTrim: leading and trailing
   * non-speech cut by the agent's voice-activity detector (as the device's segmenter does), so
   * `classify` trims too; false or absent: whole clips.
   */
  preprocessing?: { vadTrim: boolean };
  input: TensorSpec;
  /** Output tensors; `probabilities` is what the agent reads. */
  outputs: { probabilities: TensorSpec; logits?: TensorSpec };
  architecture: { arch: string; description: string; parameters: number };
  training: {
    corpora: string[];
    /** sha256 over the sorted list of training clips' content hashes. */
    dataHash: string;
    command: string;
    epochs: number;
    seed: number;
    splits: { train: SplitSummary; validation?: SplitSummary; test?: SplitSummary };
  };
  metrics: {
    validation?: SetMetrics;
    test?: SetMetrics;
    /**
     * Speaker-normalised models only: the validation set normalised with the manifest's
     * statistics instead of each speaker's, i.e. a device that has not adapted to its voices yet.
     */
    unadapted?: SetMetrics;
    note?: string;
  };
  quantization: {
    /** "none" for fp32 models. */
    kind: "none" | "static-int8-qdq";
    weights?: "int8 per-channel symmetric";
    activations?: "int8 asymmetric" | "uint8 asymmetric";
    calibration?: { method: string; clips: number; from: string };
    /** Validation UAR of the fp32 model the int8 one came from, for comparison. */
    fp32Uar?: number;
  };
  model: { file: string; sha256: string; bytes: number; opset: number };
  reference: ReferenceCase[];
  /** Ed25519 over the canonical JSON of every other field; absent in unsigned bundles. */
  signature?: { alg: "ed25519"; keyId: string; value: string };
}

import { initResampler, resampleSync } from "../audio/index.js";
import { CAPTURE_SAMPLE_RATE } from "../capture/index.js";
import { FeatureExtractor } from "../features/index.js";
import {
  loadTrustedModel,
  type Manifest,
  type ModelRunner,
  type ModelRuntime,
} from "../model/index.js";
import {
  type Classification,
  classifyUtterance,
  fixedStats,
  modelInput,
  type Normalizer,
} from "../pipeline/index.js";
import type { Logger } from "./types.js";

/** What the runtime needs of a model: its identity and a decision per utterance. */
export interface UtteranceClassifier {
  readonly model: { name: string; version: string; labels: readonly string[] };
  /** Where the model runs, for the log ("wasm", "onnxruntime"); absent in test doubles. */
  readonly runtime?: string;
  /** Classifies one utterance: mono samples at 16 kHz (CAPTURE_SAMPLE_RATE). */
  classify(samples: Float32Array): Promise<Classification>;
  release(): Promise<void>;
}

export interface LoadClassifierOptions {
  /** ONNX Runtime intra-op threads (config inference.threads). Default 1. */
  threads?: number;
  /** Where the model runs (config inference.runtime). Default auto. */
  runtime?: ModelRuntime;
  /** Public key file or directory (config model.trustedKeys); "" or absent: no check. */
  trustedKeys?: string;
  logger?: Logger;
}

/**
 * A model bundle as the runtime uses it: one ONNX session, the features, normalisation and
 * sample rate its manifest names (and nothing else), self-tested before use.
 */
export class ModelClassifier implements UtteranceClassifier {
  readonly model: { name: string; version: string; labels: readonly string[] };
  private readonly extractor: FeatureExtractor;
  private readonly normalizer: Normalizer;
  private readonly rate: number;

  constructor(
    private readonly runner: ModelRunner,
    logger?: Logger,
  ) {
    const m: Manifest = runner.manifest;
    this.model = { name: m.name, version: m.version, labels: [...m.labels] };
    this.extractor = new FeatureExtractor(m.features);
    this.rate = this.extractor.params.sampleRate;
    if (m.normalization.kind === "speaker") {
      logger?.warn(
        "model trained with per-speaker normalisation: adapting to the voices heard is not implemented yet, so the manifest's statistics are used (accuracy is the manifest's unadapted figure)",
        { model: m.name, version: m.version, unadapted_uar: m.metrics.unadapted?.uar },
      );
    }
    this.normalizer = fixedStats(m.normalization.mean, m.normalization.std);
    if (runner.fallbackReason) {
      logger?.info("the model runs on ONNX Runtime", { reason: runner.fallbackReason });
    }
  }

  /** Where the model runs: "wasm" (the agent's engine) or "onnxruntime". */
  get runtime(): string {
    return this.runner.runtime;
  }

  get manifest(): Manifest {
    return this.runner.manifest;
  }

  async classify(samples: Float32Array): Promise<Classification> {
    const audio =
      this.rate === CAPTURE_SAMPLE_RATE
        ? samples
        : resampleSync(samples, CAPTURE_SAMPLE_RATE, this.rate);
    const { x, frames } = modelInput(audio, this.runner.manifest, this.extractor);
    return classifyUtterance(this.runner, this.normalizer.apply(x, frames), frames);
  }

  release(): Promise<void> {
    return this.runner.release();
  }
}

/**
 * Loads a bundle (hash checked; signature required when trusted keys are configured), runs its
 * self-test and returns the classifier. Throws ModelError with the reason otherwise.
 */
export async function loadClassifier(
  dir: string,
  opts: LoadClassifierOptions = {},
): Promise<ModelClassifier> {
  const runner = await loadTrustedModel(dir, {
    keys: opts.trustedKeys ? [opts.trustedKeys] : [],
    threads: opts.threads ?? 1,
    runtime: opts.runtime ?? "auto",
  });
  try {
    return await classifierFor(runner, opts.logger);
  } catch (err) {
    await runner.release();
    throw err;
  }
}

/**
 * The classifier of a loaded, checked model (a bundle from disk, or one a rollout verified):
 * prepares the resampler when the model's rate is not the capture rate.
 */
export async function classifierFor(
  runner: ModelRunner,
  logger?: Logger,
): Promise<ModelClassifier> {
  if (runner.manifest.features.sampleRate !== CAPTURE_SAMPLE_RATE) await initResampler();
  return new ModelClassifier(runner, logger);
}

/**
 * Second-core worker: while the main thread trains epoch e, this thread augments every training
 * clip's waveform for epoch e+1, computes its features with the agent's extractor, normalises,
 * applies SpecAugment and crops, and hands back one [clips x crop x width] block.
 * Everything is seeded per (run seed, epoch, clip), so a run is reproducible and resumable.
 */
import { parentPort, workerData } from "node:worker_threads";
import { FeatureExtractor, type FeatureParams } from "@ser-edge/agent/features";
import { type AugmentConfig, Augmenter, createRng, seedFrom } from "../augment/index.js";
import { cropFrames } from "./batches.js";
import { normalizeInPlace, type Representation, represent } from "./representation.js";

export interface WorkerSetup {
  audio: SharedArrayBuffer;
  offsets: number[];
  lengths: number[];
  augment: AugmentConfig;
  params: FeatureParams;
  representation: Representation;
  /** Normalisation statistics per clip (global, or the clip's speaker's). */
  stats: { mean: number[]; std: number[] }[];
  width: number;
  crop: number;
  seed: number;
}

export interface EpochRequest {
  epoch: number;
}

export interface EpochBlock {
  epoch: number;
  data: Float32Array;
}

/** Prepares one epoch's crops; exported so it can run inline when workers are off. */
export function prepareEpoch(
  setup: WorkerSetup,
  augmenter: Augmenter,
  extractor: FeatureExtractor,
  epoch: number,
): Float32Array {
  const { width, crop } = setup;
  const all = new Float32Array(setup.offsets.length * crop * width);
  const audio = new Float32Array(setup.audio);
  for (let i = 0; i < setup.offsets.length; i++) {
    const rng = createRng(seedFrom(setup.seed, epoch, i));
    const wave = audio.subarray(setup.offsets[i], setup.offsets[i] + setup.lengths[i]);
    const x = represent(augmenter.augmentWave(wave, rng), setup.representation, extractor);
    normalizeInPlace(x, setup.stats[i]);
    const masked = augmenter.augmentFeatures(x, width, rng);
    all.set(cropFrames(masked, masked.length / width, width, crop, rng), i * crop * width);
  }
  return all;
}

if (parentPort && workerData) {
  const setup = workerData as WorkerSetup;
  const port = parentPort;
  const augmenter = await Augmenter.create(setup.augment);
  const extractor = new FeatureExtractor(setup.params);
  port.on("message", (req: EpochRequest) => {
    const data = prepareEpoch(setup, augmenter, extractor, req.epoch);
    const block: EpochBlock = { epoch: req.epoch, data };
    port.postMessage(block, [data.buffer as ArrayBuffer]);
  });
}

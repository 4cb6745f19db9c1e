import type { FeatureExtractor, FeatureParams } from "@ser-edge/agent/features";
import { createSpeechTrimmer } from "@ser-edge/agent/pipeline";
import type { Clip } from "../datasets/types.js";
import type { Example } from "./batches.js";
import type { FeatureCache } from "./cache.js";
import { Progress } from "./progress.js";
import { globalStats, normalizeInPlace, type Representation, represent } from "./representation.js";

/**
 * Clips to model inputs, shared by training and export: decoded audio and features through the
 * cache, then normalisation with the global or per-speaker statistics.
 */
export interface FeatureConfig {
  featureParams: FeatureParams;
  representation: Representation;
  /**
   * Cut each clip's leading and trailing non-speech with the agent's voice-activity detector
   * first, so that training sees what the device's segmenter hands to the model.
   */
  trim?: boolean;
}

export interface Loaded {
  clip: Clip;
  hash: string;
  samples: Float32Array;
  features: Float32Array;
}

export async function loadAll(
  clips: Clip[],
  cache: FeatureCache,
  cfg: FeatureConfig,
  extractor: FeatureExtractor,
  what: string,
  log: (s: string) => void,
): Promise<Loaded[]> {
  const progress = new Progress(
    `${what}: decoding + ${cfg.trim ? "VAD trimming + " : ""}features`,
    clips.length,
    log,
  );
  const trimmer = cfg.trim && clips.length ? await createSpeechTrimmer() : null;
  const out: Loaded[] = [];
  try {
    for (const clip of clips) {
      const audio = await cache.audio(clip.path, cfg.featureParams.sampleRate);
      const samples = trimmer ? (await trimmer.trim(audio.samples)).samples : audio.samples;
      // Trimmed features are another cache entry than whole-clip ones.
      const key = trimmer ? `${audio.hash}-vad` : audio.hash;
      const features = await cache.features(key, cfg.featureParams, cfg.representation, () =>
        represent(samples, cfg.representation, extractor),
      );
      out.push({ clip, hash: audio.hash, samples, features });
      progress.tick();
    }
  } finally {
    await trimmer?.dispose();
  }
  progress.done();
  return out;
}

export type Stats = { mean: number[]; std: number[] };

/** Normalisation statistics for a clip: the global ones, or its speaker's. */
export type StatsFor = (clip: Clip) => Stats;

/** Each speaker's own feature statistics over all their clips (speaker normalisation). */
export function speakerStats(items: Loaded[], width: number): Map<string, Stats> {
  const groups = new Map<string, Float32Array[]>();
  for (const it of items) {
    const group = groups.get(it.clip.speaker);
    if (group) group.push(it.features);
    else groups.set(it.clip.speaker, [it.features]);
  }
  return new Map([...groups].map(([speaker, feats]) => [speaker, globalStats(feats, width)]));
}

export function examples(items: Loaded[], labels: string[], statsFor: StatsFor): Example[] {
  return items.map((it) => {
    const x = it.features.slice();
    const stats = statsFor(it.clip);
    const width = stats.mean.length;
    normalizeInPlace(x, stats);
    return { x, frames: x.length / width, label: labels.indexOf(it.clip.label), id: it.clip.path };
  });
}

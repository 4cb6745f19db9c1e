// Feature extraction speed: ms of one core per second of 16 kHz audio, for the 40-MFCC golden
// parameters, offline and streaming. Uses the same clips as shared/peer/bench_librosa.py (the
// first five of RAVDESS Actor_01) when ../shared is there, else the demo clips.
// Run alone: node --conditions=source --import tsx bench/features.bench.ts
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "@ser-edge/agent/audio";
import {
  extractFeatures,
  FeatureExtractor,
  pitchFeatures,
  representFrames,
} from "@ser-edge/agent/features";
import { medianMs } from "./stats.js";

export function benchClips(): string[] {
  const shared = fileURLToPath(new URL("../../shared/data/ravdess/Actor_01/", import.meta.url));
  if (existsSync(shared)) {
    return readdirSync(shared)
      .filter((f) => f.endsWith(".flac"))
      .sort()
      .slice(0, 5)
      .map((f) => join(shared, f));
  }
  const demo = fileURLToPath(new URL("../demo/", import.meta.url));
  return readdirSync(demo)
    .filter((f) => f.endsWith(".flac"))
    .sort()
    .map((f) => join(demo, f));
}

export interface FeatureBench {
  clips: number;
  audio_seconds: number;
  /** Offline form: the whole clip at once. */
  offline_ms_per_audio_s: number;
  /** Streaming form fed 10 ms (160-sample) chunks, as a microphone delivers them. */
  streaming_10ms_ms_per_audio_s: number;
  /** Streaming form fed 100 ms chunks. */
  streaming_100ms_ms_per_audio_s: number;
  /** Pitch and voicing alone (the extra work of the "mfcc+pitch" representation). */
  pitch_ms_per_audio_s: number;
  /** The "mfcc+pitch" representation, offline: MFCCs, pitch, and the interleaving. */
  mfcc_pitch_ms_per_audio_s: number;
  /** Extractor construction (WASM instance and tables), once per parameter set. */
  setup_ms: number;
}

export async function benchFeatures(): Promise<FeatureBench> {
  const clips = await Promise.all(benchClips().map((p) => readAudioFile(p)));
  const seconds = clips.reduce((s, c) => s + c.durationSec, 0);
  const setup = await medianMs(() => new FeatureExtractor(), 10, 2);
  const ex = new FeatureExtractor();
  const sum = async (f: (x: Float32Array) => void) => {
    let ms = 0;
    for (const c of clips) ms += await medianMs(() => f(c.samples), 50, 5);
    return ms / seconds;
  };
  const streaming = (chunk: number) => (x: Float32Array) => {
    for (let i = 0; i < x.length; i += chunk) ex.push(x.subarray(i, i + chunk));
    ex.finish();
  };
  return {
    clips: clips.length,
    audio_seconds: seconds,
    offline_ms_per_audio_s: await sum((x) => extractFeatures(x, ex)),
    streaming_10ms_ms_per_audio_s: await sum(streaming(160)),
    streaming_100ms_ms_per_audio_s: await sum(streaming(1600)),
    pitch_ms_per_audio_s: await sum((x) => pitchFeatures(x, ex.params)),
    mfcc_pitch_ms_per_audio_s: await sum((x) => representFrames(x, "mfcc+pitch", ex)),
    setup_ms: setup,
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await benchFeatures());
}

import { loadConfig } from "../config/load.js";
import { utteranceStream } from "../runtime/detector.js";
import { createSilero } from "../vad/index.js";

/**
 * Leading and trailing non-speech cut off a whole recording with the agent's own voice-activity
 * detector and settings (energy gate + Silero VAD + segmenter with its pre-roll and hangover),
 * so that `classify` sees what the device would send to the model. A file in which nothing is
 * detected is kept whole.
 */
export interface SpeechTrimmer {
  trim(samples: Float32Array): Promise<{ samples: Float32Array; trimmed: boolean }>;
  dispose(): Promise<void>;
}

/** Trim when forced (--trim / --no-trim), else exactly when the model was trained on trimmed clips. */
export function shouldTrim(
  manifest: { preprocessing?: { vadTrim: boolean } },
  force: { trim?: unknown; noTrim?: unknown },
): boolean {
  if (force.trim) return true;
  if (force.noTrim) return false;
  return manifest.preprocessing?.vadTrim ?? false;
}

export async function createSpeechTrimmer(): Promise<SpeechTrimmer> {
  // The agent's defaults, from the one schema (no file, environment or arguments).
  const { vad } = loadConfig({ env: {}, args: [] });
  const model = await createSilero({ runtime: vad.modelRuntime, sampleRate: vad.modelSampleRate });
  return {
    async trim(samples) {
      model.reset();
      const stream = utteranceStream(vad, model);
      const found = [...(await stream.push({ samples })), ...(await stream.flush())];
      if (found.length === 0) return { samples, trimmed: false };
      const start = Math.min(...found.map((u) => u.startSample));
      const end = Math.max(...found.map((u) => u.endSample));
      return { samples: samples.subarray(start, end), trimmed: start > 0 || end < samples.length };
    },
    dispose: async () => await model.dispose(),
  };
}

import type { AgentConfig } from "../config/index.js";
import {
  createSilero,
  type SpeechModel,
  type Utterance,
  UtteranceDetector,
  VoiceActivityDetector,
} from "../vad/index.js";

/** Audio chunks in, utterances out (UtteranceDetector's shape), plus the release of its model. */
export interface UtteranceStream {
  push(chunk: { samples: Float32Array; discontinuity?: boolean }): Promise<Utterance[]>;
  flush(): Promise<Utterance[]>;
  dispose(): Promise<void>;
}

/** The segmenter's settings from the configuration (vad.*). */
export function segmenterOptions(vad: AgentConfig["vad"]) {
  return {
    preRollMs: vad.preRollMs,
    hangoverMs: vad.hangoverMs,
    minSpeechMs: vad.minSpeechMs,
    maxUtteranceMs: vad.maxUtteranceMs,
    windowOverlapMs: vad.windowOverlapMs,
  };
}

/** An UtteranceDetector over a given speech model (or the gate alone), as an UtteranceStream. */
export function utteranceStream(
  vad: AgentConfig["vad"],
  model: SpeechModel | undefined,
): UtteranceStream {
  const detector = new UtteranceDetector(
    new VoiceActivityDetector({
      gate: { openDb: vad.energyThresholdDb },
      threshold: vad.threshold,
      ...(model ? { model } : {}),
    }),
    segmenterOptions(vad),
  );
  return {
    push: (chunk) => detector.push(chunk),
    flush: () => detector.flush(),
    dispose: async () => {
      await model?.dispose();
    },
  };
}

/**
 * The two-stage detector the agent runs: the energy gate (vad.energyThresholdDb above the noise
 * floor) waking Silero VAD v6 (vad.threshold; in WebAssembly or on one ONNX Runtime thread,
 * vad.modelRuntime), then the segmenter.
 */
export async function createUtteranceStream(vad: AgentConfig["vad"]): Promise<UtteranceStream> {
  return utteranceStream(
    vad,
    await createSilero({ runtime: vad.modelRuntime, sampleRate: vad.modelSampleRate }),
  );
}

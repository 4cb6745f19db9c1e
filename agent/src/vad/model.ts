/**
 * Stage (b) of voice activity detection: a trained frame classifier. The detector feeds it
 * consecutive windows of `windowSamples` samples (16 kHz mono floats in [-1, 1]) while it is
 * awake, and calls reset() before feeding it again after it slept.
 */
export interface SpeechModel {
  readonly name: string;
  /** Samples per window, at 16 kHz. */
  readonly windowSamples: number;
  /** Speech probability (0..1) of the next window; the model keeps its own state between calls. */
  process(window: Float32Array): number | Promise<number>;
  /** Forgets the stream so far. */
  reset(): void;
  /** Frees native or WASM memory. */
  dispose(): void | Promise<void>;
}

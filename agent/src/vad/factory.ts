import type { SpeechModel } from "./model.js";
import { SileroVad } from "./silero.js";
import { SileroWasmVad } from "./silero-wasm.js";

/**
 * Where Silero runs: "wasm", the agent's own WebAssembly forward pass of the 16 kHz network
 * (about half ONNX Runtime's CPU per window, same probabilities to ~1e-6), or "onnxruntime".
 * The 8 kHz branch runs on ONNX Runtime only.
 */
export type SileroRuntime = "wasm" | "onnxruntime";

export interface SileroChoice {
  runtime?: SileroRuntime;
  sampleRate?: 16000 | 8000;
}

/** The agent's trained voice-activity model (stage b), as configured. */
export async function createSilero(choice: SileroChoice = {}): Promise<SpeechModel> {
  const sampleRate = choice.sampleRate ?? 16000;
  if ((choice.runtime ?? "wasm") === "wasm" && sampleRate === 16000) return new SileroWasmVad();
  return SileroVad.create({ threads: 1, sampleRate });
}

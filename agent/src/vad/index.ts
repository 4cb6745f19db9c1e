export { type FloatTensor, floatInitializers } from "../onnx/graph.js";
export {
  type VadFrame,
  type VadOptions,
  type VadStats,
  VoiceActivityDetector,
} from "./detector.js";
export {
  DEFAULT_GATE_OPTIONS,
  EnergyGate,
  type EnergyGateOptions,
  type GateFrame,
} from "./energy-gate.js";
export {
  createSilero,
  type SileroChoice,
  type SileroRuntime,
} from "./factory.js";
export { WebRtcVad, type WebRtcVadOptions } from "./fvad.js";
export type { SpeechModel } from "./model.js";
export {
  DEFAULT_SEGMENTER_OPTIONS,
  type ResolvedSegmenterOptions,
  Segmenter,
  type SegmenterFrame,
  type SegmenterOptions,
  type Utterance,
  type UtteranceEnd,
} from "./segmenter.js";
export {
  DEFAULT_SILERO_VARIANT,
  SILERO_VARIANTS,
  type SileroOptions,
  SileroVad,
  type SileroVariant,
  sileroModelPath,
} from "./silero.js";
export { SileroWasmVad } from "./silero-wasm.js";
export { UtteranceDetector } from "./utterances.js";

/** The one feature extractor of ser-edge, shared by the agent and the trainer. */
export { dctOrthoMatrix } from "./dct.js";
export { deltas } from "./deltas.js";
export {
  extractFeatures,
  FeatureExtractor,
  toRows,
  type UtteranceFeatures,
} from "./extractor.js";
export { hzToMel, melFilterbank, melToHz } from "./mel.js";
export {
  applyStats,
  type ColumnStats,
  columnStats,
  normalizeUtterance,
  stackColumns,
} from "./normalize.js";
export {
  DEFAULT_FEATURE_PARAMS,
  type FeatureParams,
  FeatureParamsError,
  featureParamsKey,
  resolveFeatureParams,
} from "./params.js";
export {
  centeredFrameCount,
  decimateForPitch,
  decimateReference,
  nccfReference,
  PITCH_FEATURES,
  type PitchFrame,
  pitchFeatures,
  pitchTrack,
  pitchTrackReference,
} from "./pitch.js";
export {
  isRepresentation,
  REPRESENTATIONS,
  type Representation,
  representationWidth,
  representFrames,
} from "./representation.js";
export { periodicWindow } from "./window.js";

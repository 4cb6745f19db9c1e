/** Whole-utterance classification: model input, normalisation, the model's decision. */
export { type Classification, classifyUtterance } from "./classify.js";
export { modelInput } from "./features-for-model.js";
export { fixedStats, type Normalizer, type StatsNormalizer, statsFromFiles } from "./normalizer.js";
export { createSpeechTrimmer, type SpeechTrimmer, shouldTrim } from "./trim.js";

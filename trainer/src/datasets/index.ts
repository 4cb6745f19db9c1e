export { cremadReader } from "./cremad.js";
export { genericReader, UNKNOWN_SPEAKER } from "./generic.js";
export {
  applyLabelOptions,
  CORPUS_LABELS,
  CREMAD_EMOTIONS,
  countLabels,
  GENERIC_ALIASES,
  genericLabel,
  isEmotion,
  LabelError,
  type LabelOptions,
  labelSet,
  parseMerge,
  parseSelect,
  RAVDESS_EMOTIONS,
  SAVEE_EMOTIONS,
  TESS_EMOTIONS,
  validateLabelOptions,
} from "./labels.js";
export { ravdessReader } from "./ravdess.js";
export type { CorpusReader, ParsedName, ParseResult, ReaderOptions } from "./reader.js";
export { saveeReader } from "./savee.js";
export {
  type CorpusFound,
  compileSpeakerRegex,
  READERS,
  type ScanOptions,
  type ScanResult,
  type SkippedFile,
  scanDatasets,
} from "./scan.js";
export {
  assertSpeakerDisjoint,
  type ClipSets,
  type CrossCorpusSplit,
  crossCorpus,
  type Fold,
  kFoldBySpeaker,
  type RandomSplit,
  randomSplit,
  ravdessActors,
  type SpeakerSplitOptions,
  type Split,
  SplitError,
  type SplitManifest,
  speakersOf,
  splitBySpeaker,
  splitManifest,
} from "./splits.js";
export {
  type DatasetSummary,
  formatDuration,
  formatSummary,
  measureDurations,
  summarize,
} from "./summary.js";
export { tessReader } from "./tess.js";
export * from "./types.js";

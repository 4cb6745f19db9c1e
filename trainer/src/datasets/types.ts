/** The one label set of ser-edge. Every corpus maps onto it (see labels.ts). */
export const EMOTIONS = [
  "neutral",
  "calm",
  "happy",
  "sad",
  "angry",
  "fearful",
  "disgust",
  "surprised",
] as const;

export type Emotion = (typeof EMOTIONS)[number];

export type CorpusName = "ravdess" | "crema-d" | "tess" | "savee" | "generic";

/** One labelled recording, as a corpus reader yields it. */
export interface Clip {
  /** Absolute or cwd-relative path of the audio file. */
  path: string;
  label: Emotion;
  /** Speaker id, unique across corpora (prefixed with the corpus, e.g. "ravdess:17"). */
  speaker: string;
  corpus: CorpusName;
  /** Corpus-specific facts: intensity, statement, repetition, sex, ... */
  extras: Record<string, string>;
}

import { type Clip, type CorpusName, EMOTIONS, type Emotion } from "./types.js";

/**
 * How every corpus maps onto EMOTIONS. The tables below are the single source of truth; the
 * readers look codes up here and nowhere else.
 *
 * | EMOTIONS  | RAVDESS (EE) | CREMA-D | TESS (last word) | SAVEE (prefix) | generic folder         |
 * |-----------|--------------|---------|------------------|----------------|------------------------|
 * | neutral   | 01           | NEU     | neutral          | n              | neutral                |
 * | calm      | 02           | -       | -                | -              | calm                   |
 * | happy     | 03           | HAP     | happy            | h              | happy, happiness       |
 * | sad       | 04           | SAD     | sad              | sa             | sad, sadness           |
 * | angry     | 05           | ANG     | angry            | a              | angry, anger           |
 * | fearful   | 06           | FEA     | fear             | f              | fearful, fear          |
 * | disgust   | 07           | DIS     | disgust          | d              | disgust, disgusted     |
 * | surprised | 08           | -       | ps (pleasant s.) | su             | surprised, surprise    |
 *
 * Only RAVDESS has "calm"; CREMA-D has no "surprised". Merge or select labels (LabelOptions)
 * when combining corpora so that a model is not asked for classes some corpora never show.
 */
export const RAVDESS_EMOTIONS: Readonly<Record<string, Emotion>> = {
  "01": "neutral",
  "02": "calm",
  "03": "happy",
  "04": "sad",
  "05": "angry",
  "06": "fearful",
  "07": "disgust",
  "08": "surprised",
};

export const CREMAD_EMOTIONS: Readonly<Record<string, Emotion>> = {
  ANG: "angry",
  DIS: "disgust",
  FEA: "fearful",
  HAP: "happy",
  NEU: "neutral",
  SAD: "sad",
};

/** TESS: the last word of `OAF_back_angry.wav`, lower-cased. "ps" is "pleasant surprise". */
export const TESS_EMOTIONS: Readonly<Record<string, Emotion>> = {
  angry: "angry",
  disgust: "disgust",
  fear: "fearful",
  happy: "happy",
  neutral: "neutral",
  ps: "surprised",
  sad: "sad",
};

/** SAVEE: the letters before the sentence number in `DC_sa03.wav`. */
export const SAVEE_EMOTIONS: Readonly<Record<string, Emotion>> = {
  a: "angry",
  d: "disgust",
  f: "fearful",
  h: "happy",
  n: "neutral",
  sa: "sad",
  su: "surprised",
};

/** Folder names accepted by the generic `DIR/<label>/` layout besides the EMOTIONS themselves. */
export const GENERIC_ALIASES: Readonly<Record<string, Emotion>> = {
  happiness: "happy",
  sadness: "sad",
  anger: "angry",
  fear: "fearful",
  disgusted: "disgust",
  surprise: "surprised",
};

export const CORPUS_LABELS: Readonly<Record<CorpusName, Readonly<Record<string, Emotion>>>> = {
  ravdess: RAVDESS_EMOTIONS,
  "crema-d": CREMAD_EMOTIONS,
  tess: TESS_EMOTIONS,
  savee: SAVEE_EMOTIONS,
  generic: GENERIC_ALIASES,
};

export function isEmotion(s: string): s is Emotion {
  return (EMOTIONS as readonly string[]).includes(s);
}

/** A generic label folder name (case-insensitive, aliases allowed), or undefined. */
export function genericLabel(folder: string): Emotion | undefined {
  const s = folder.toLowerCase();
  return isEmotion(s) ? s : GENERIC_ALIASES[s];
}

/** Bad --merge/--labels syntax or an unknown label; the CLI shows it as a usage error. */
export class LabelError extends Error {
  override readonly name = "LabelError";
}

export interface LabelOptions {
  /** Relabel clips: `{ calm: "neutral" }` turns every calm clip into neutral. Not transitive. */
  merge?: Partial<Record<Emotion, Emotion>>;
  /** Keep only clips whose (merged) label is listed. */
  select?: Emotion[];
}

const KNOWN = `known labels: ${EMOTIONS.join(", ")}`;

function emotionOrThrow(s: string, where: string): Emotion {
  const e = s.trim().toLowerCase();
  if (!isEmotion(e)) throw new LabelError(`unknown label "${s.trim()}" in ${where} (${KNOWN})`);
  return e;
}

/** Parses `calm=neutral,surprised=happy`. */
export function parseMerge(text: string): Partial<Record<Emotion, Emotion>> {
  const merge: Partial<Record<Emotion, Emotion>> = {};
  for (const part of text.split(",")) {
    if (part.trim() === "") continue;
    const pieces = part.split("=");
    if (pieces.length !== 2) {
      throw new LabelError(`--merge expects FROM=TO pairs like calm=neutral, got "${part.trim()}"`);
    }
    const from = emotionOrThrow(pieces[0], "--merge");
    const to = emotionOrThrow(pieces[1], "--merge");
    if (from === to) throw new LabelError(`--merge ${from}=${to} merges a label into itself`);
    if (merge[from] !== undefined && merge[from] !== to) {
      throw new LabelError(`--merge gives ${from} two targets: ${merge[from]} and ${to}`);
    }
    merge[from] = to;
  }
  validateMerge(merge);
  return merge;
}

/** Parses `neutral,happy,sad,angry`. */
export function parseSelect(text: string): Emotion[] {
  const labels = text
    .split(",")
    .filter((s) => s.trim() !== "")
    .map((s) => emotionOrThrow(s, "--labels"));
  if (labels.length === 0) throw new LabelError(`--labels needs at least one label (${KNOWN})`);
  const dup = labels.find((l, i) => labels.indexOf(l) !== i);
  if (dup) throw new LabelError(`--labels lists ${dup} twice`);
  return labels;
}

function validateMerge(merge: Partial<Record<Emotion, Emotion>>): void {
  for (const [from, to] of Object.entries(merge) as [Emotion, Emotion][]) {
    // A chain (a=b,b=c) would depend on the order of application; ask for a=c,b=c instead.
    if (merge[to] !== undefined) {
      throw new LabelError(
        `--merge ${from}=${to} chains into ${to}=${merge[to]}; write ${from}=${merge[to]} instead`,
      );
    }
  }
}

/** Checks that options are consistent, e.g. that --labels does not ask for a merged-away label. */
export function validateLabelOptions(opts: LabelOptions): void {
  const merge = opts.merge ?? {};
  for (const from of Object.keys(merge) as Emotion[]) {
    if (!isEmotion(from) || !isEmotion(merge[from] as string)) {
      throw new LabelError(`--merge ${from}=${merge[from]}: ${KNOWN}`);
    }
  }
  validateMerge(merge);
  for (const l of opts.select ?? []) {
    if (!isEmotion(l)) throw new LabelError(`unknown label "${l}" in --labels (${KNOWN})`);
    const to = merge[l];
    if (to !== undefined) {
      throw new LabelError(`--labels asks for ${l}, but --merge turns it into ${to}; select ${to}`);
    }
  }
}

/** The labels a model trained with these options predicts, in EMOTIONS order. */
export function labelSet(opts: LabelOptions = {}): Emotion[] {
  validateLabelOptions(opts);
  const merge = opts.merge ?? {};
  return EMOTIONS.filter(
    (e) => merge[e] === undefined && (opts.select === undefined || opts.select.includes(e)),
  );
}

/** Clips relabelled by `merge` and filtered by `select`; the input is not modified. */
export function applyLabelOptions(clips: readonly Clip[], opts: LabelOptions = {}): Clip[] {
  const keep = new Set(labelSet(opts));
  const merge = opts.merge ?? {};
  const out: Clip[] = [];
  for (const clip of clips) {
    const label = merge[clip.label] ?? clip.label;
    if (!keep.has(label)) continue;
    out.push(label === clip.label ? clip : { ...clip, label });
  }
  return out;
}

/** Clips per label, with every label of `labels` present (zero when absent). */
export function countLabels(
  clips: readonly Clip[],
  labels: readonly Emotion[] = EMOTIONS,
): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const l of labels) counts[l] = 0;
  for (const c of clips) counts[c.label] = (counts[c.label] ?? 0) + 1;
  return counts;
}

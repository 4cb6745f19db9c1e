import { relative } from "node:path";
import { countLabels } from "./labels.js";
import { rng, shuffled } from "./random.js";
import { type Clip, type CorpusName, EMOTIONS, type Emotion } from "./types.js";
import { compareNatural } from "./walk.js";

/**
 * Speaker-independent splits. A model evaluated on speakers it was trained on measures how well
 * it remembers voices, not emotions, so every split here except randomSplit keeps each speaker
 * in exactly one set, and randomSplit says loudly that it does not.
 */

/** Impossible or inconsistent split request (unknown speaker, too few speakers, ...). */
export class SplitError extends Error {
  override readonly name = "SplitError";
}

export interface Split {
  train: Clip[];
  validation: Clip[];
  test: Clip[];
  speakers: { train: string[]; validation: string[]; test: string[] };
}

/** Anything with clip sets, for assertSpeakerDisjoint and splitManifest. */
export type ClipSets = { train: Clip[]; validation?: Clip[]; test?: Clip[] };

export interface SpeakerSplitOptions {
  /** Speaker ids, or the fraction of all speakers (0..1) to hold out for validation. */
  validation: string[] | number;
  /** Speaker ids, or a fraction of all speakers, for the test set. Default: no test set. */
  test?: string[] | number;
  /** Seed for choosing speakers by fraction. Default 0. */
  seed?: number | string;
}

/** Speakers of the given clips, in natural order ("ravdess:2" before "ravdess:10"). */
export function speakersOf(clips: readonly Clip[]): string[] {
  return [...new Set(clips.map((c) => c.speaker))].sort(compareNatural);
}

/** RAVDESS actor numbers as speaker ids, e.g. the common protocol "actors 21-24 are test". */
export function ravdessActors(nums: readonly number[]): string[] {
  return nums.map((n) => {
    if (!Number.isInteger(n) || n < 1 || n > 24) {
      throw new SplitError(`RAVDESS actor ${n} out of range 1..24`);
    }
    return `ravdess:${n}`;
  });
}

/**
 * Group of each speaker for stratified choice: corpus plus sex when every clip of the speaker
 * agrees on extras.sex, so that held-out sets mirror the corpora and the sex balance.
 */
function speakerGroups(clips: readonly Clip[]): Map<string, string> {
  const groups = new Map<string, string>();
  for (const c of clips) {
    const g = `${c.corpus}|${c.extras.sex ?? "?"}`;
    const prev = groups.get(c.speaker);
    if (prev === undefined) groups.set(c.speaker, g);
    else if (prev !== g) groups.set(c.speaker, `${c.corpus}|?`);
  }
  return groups;
}

/** Pools of speakers per group, each shuffled by `random`; groups in sorted order. */
function shuffledPools(
  speakers: readonly string[],
  groups: Map<string, string>,
  random: () => number,
): string[][] {
  const byGroup = new Map<string, string[]>();
  for (const s of speakers) {
    const g = groups.get(s) ?? "?";
    byGroup.set(g, [...(byGroup.get(g) ?? []), s]);
  }
  return [...byGroup.keys()].sort().map((g) => shuffled(byGroup.get(g) ?? [], random));
}

/** Takes `n` speakers from the pools in proportion to their sizes (largest remainder). */
function takeStratified(pools: string[][], n: number): string[] {
  const total = pools.reduce((s, p) => s + p.length, 0);
  const exact = pools.map((p) => (n * p.length) / Math.max(1, total));
  const quota = exact.map(Math.floor);
  const order = exact
    .map((x, i) => ({ i, rest: x - Math.floor(x) }))
    .sort((a, b) => b.rest - a.rest || a.i - b.i);
  let missing = n - quota.reduce((s, q) => s + q, 0);
  for (const { i } of order) {
    if (missing === 0) break;
    if (quota[i] < pools[i].length) {
      quota[i]++;
      missing--;
    }
  }
  return pools.flatMap((p, i) => p.splice(0, quota[i]));
}

function checkFraction(f: number, name: string): void {
  if (!Number.isFinite(f) || f < 0 || f >= 1) {
    throw new SplitError(`${name} fraction must be in [0, 1), got ${f}`);
  }
}

function checkKnown(ids: readonly string[], known: Set<string>, name: string): void {
  for (const id of ids) {
    if (!known.has(id)) {
      const some = [...known].sort(compareNatural).slice(0, 8).join(", ");
      throw new SplitError(`${name} speaker "${id}" has no clips (speakers: ${some}, ...)`);
    }
  }
}

function byHeldOut(clips: readonly Clip[], validation: Set<string>, test: Set<string>): Split {
  const split: Split = {
    train: [],
    validation: [],
    test: [],
    speakers: { train: [], validation: [], test: [] },
  };
  for (const c of clips) {
    if (validation.has(c.speaker)) split.validation.push(c);
    else if (test.has(c.speaker)) split.test.push(c);
    else split.train.push(c);
  }
  split.speakers.train = speakersOf(split.train);
  split.speakers.validation = speakersOf(split.validation);
  split.speakers.test = speakersOf(split.test);
  return split;
}

/**
 * Splits by speaker: explicit speaker lists, or fractions of the speakers chosen from the seed
 * (stratified by corpus and sex). Explicit lists are taken first, fractions from the rest.
 */
export function splitBySpeaker(clips: readonly Clip[], opts: SpeakerSplitOptions): Split {
  const all = speakersOf(clips);
  const known = new Set(all);
  const validation = new Set<string>();
  const test = new Set<string>();
  const fractions: { set: Set<string>; name: string; fraction: number }[] = [];
  for (const [name, spec, set] of [
    ["validation", opts.validation, validation],
    ["test", opts.test ?? [], test],
  ] as const) {
    if (typeof spec === "number") {
      checkFraction(spec, name);
      fractions.push({ set, name, fraction: spec });
    } else {
      checkKnown(spec, known, name);
      for (const id of spec) set.add(id);
    }
  }
  for (const id of validation) {
    if (test.has(id)) throw new SplitError(`speaker ${id} is listed for validation and test`);
  }
  const random = rng(opts.seed ?? 0);
  const groups = speakerGroups(clips);
  const pools = shuffledPools(
    all.filter((s) => !validation.has(s) && !test.has(s)),
    groups,
    random,
  );
  for (const { set, name, fraction } of fractions) {
    const n = fraction === 0 ? 0 : Math.max(1, Math.round(fraction * all.length));
    const left = pools.reduce((s, p) => s + p.length, 0);
    if (n >= left) {
      throw new SplitError(
        `${name} fraction ${fraction} of ${all.length} speakers leaves no speaker to train on`,
      );
    }
    for (const id of takeStratified(pools, n)) set.add(id);
  }
  if (validation.size + test.size >= all.length) {
    throw new SplitError(`no speaker left to train on (${all.length} speakers in all)`);
  }
  return byHeldOut(clips, validation, test);
}

export interface Fold {
  index: number;
  train: Clip[];
  validation: Clip[];
  speakers: { train: string[]; validation: string[] };
}

/**
 * k folds over speakers: each speaker is validated in exactly one fold and never trained on in
 * that fold. Speakers are dealt round-robin per corpus/sex group, so folds stay balanced.
 */
export function kFoldBySpeaker(clips: readonly Clip[], k: number, seed: number | string): Fold[] {
  const all = speakersOf(clips);
  if (!Number.isInteger(k) || k < 2) throw new SplitError(`k must be an integer >= 2, got ${k}`);
  if (k > all.length) {
    throw new SplitError(`k = ${k} folds need at least ${k} speakers, found ${all.length}`);
  }
  const dealt = shuffledPools(all, speakerGroups(clips), rng(seed)).flat();
  const foldOf = new Map(dealt.map((s, i) => [s, i % k]));
  return Array.from({ length: k }, (_, index) => {
    const held = new Set(dealt.filter((s) => foldOf.get(s) === index));
    const { train, validation, speakers } = byHeldOut(clips, held, new Set());
    return {
      index,
      train,
      validation,
      speakers: { train: speakers.train, validation: speakers.validation },
    };
  });
}

export interface RandomSplit extends Split {
  /** Always set: callers must print it. */
  warning: string;
}

/**
 * Clip-level random split, for comparison with published numbers that use one. Speakers leak
 * between sets, which inflates accuracy; `warning` says by how much exposure.
 */
export function randomSplit(
  clips: readonly Clip[],
  fractions: { validation: number; test?: number },
  seed: number | string,
): RandomSplit {
  checkFraction(fractions.validation, "validation");
  checkFraction(fractions.test ?? 0, "test");
  if (fractions.validation + (fractions.test ?? 0) >= 1) {
    throw new SplitError("validation + test fractions must leave clips to train on");
  }
  const order = shuffled(clips, rng(seed));
  const nVal = Math.round(fractions.validation * order.length);
  const nTest = Math.round((fractions.test ?? 0) * order.length);
  const validation = order.slice(0, nVal);
  const test = order.slice(nVal, nVal + nTest);
  const train = order.slice(nVal + nTest);
  const speakers = {
    train: speakersOf(train),
    validation: speakersOf(validation),
    test: speakersOf(test),
  };
  const seen = new Map<string, number>();
  for (const list of Object.values(speakers)) {
    for (const s of list) seen.set(s, (seen.get(s) ?? 0) + 1);
  }
  const leaked = [...seen.values()].filter((n) => n > 1).length;
  const warning =
    `random split ignores speakers: ${leaked} of ${seen.size} speakers are in more than one ` +
    "set, so held-out accuracy is optimistic (the model may recognise voices, not emotions). " +
    "Use a speaker split (splitBySpeaker / kFoldBySpeaker) for numbers you report.";
  return { train, validation, test, speakers, warning };
}

export interface CrossCorpusSplit extends Split {
  /** Labels both sides share, in EMOTIONS order: the classes to train and evaluate. */
  labels: Emotion[];
  /** Labels present on one side only, dropped with their clips. */
  dropped: { train: Emotion[]; test: Emotion[] };
}

/** Train on some corpora, test on another, over the labels both sides have. */
export function crossCorpus(
  clips: readonly Clip[],
  trainCorpora: readonly CorpusName[],
  testCorpus: CorpusName,
): CrossCorpusSplit {
  if (trainCorpora.length === 0) throw new SplitError("give at least one training corpus");
  if (trainCorpora.includes(testCorpus)) {
    throw new SplitError(`${testCorpus} cannot be both a training and the test corpus`);
  }
  const trainAll = clips.filter((c) => trainCorpora.includes(c.corpus));
  const testAll = clips.filter((c) => c.corpus === testCorpus);
  if (trainAll.length === 0) throw new SplitError(`no clips of ${trainCorpora.join(", ")}`);
  if (testAll.length === 0) throw new SplitError(`no clips of ${testCorpus}`);
  const trainLabels = new Set(trainAll.map((c) => c.label));
  const testLabels = new Set(testAll.map((c) => c.label));
  const labels = EMOTIONS.filter((e) => trainLabels.has(e) && testLabels.has(e));
  if (labels.length === 0) {
    throw new SplitError(`${testCorpus} shares no label with ${trainCorpora.join(", ")}`);
  }
  const keep = new Set<Emotion>(labels);
  const train = trainAll.filter((c) => keep.has(c.label));
  const test = testAll.filter((c) => keep.has(c.label));
  return {
    train,
    validation: [],
    test,
    speakers: { train: speakersOf(train), validation: [], test: speakersOf(test) },
    labels,
    dropped: {
      train: EMOTIONS.filter((e) => trainLabels.has(e) && !keep.has(e)),
      test: EMOTIONS.filter((e) => testLabels.has(e) && !keep.has(e)),
    },
  };
}

/** Throws SplitError naming the speakers that appear in more than one set. */
export function assertSpeakerDisjoint(split: ClipSets): void {
  const where = new Map<string, Set<string>>();
  for (const name of ["train", "validation", "test"] as const) {
    for (const c of split[name] ?? []) {
      const sets = where.get(c.speaker) ?? new Set<string>();
      sets.add(name);
      where.set(c.speaker, sets);
    }
  }
  const shared = [...where].filter(([, sets]) => sets.size > 1);
  if (shared.length > 0) {
    const list = shared
      .slice(0, 10)
      .map(([s, sets]) => `${s} (${[...sets].join(", ")})`)
      .join("; ");
    throw new SplitError(`${shared.length} speakers are in more than one set: ${list}`);
  }
}

export interface SplitManifestSet {
  speakers: string[];
  clips: string[];
  labels: Record<string, number>;
}

export interface SplitManifest {
  version: 1;
  meta: Record<string, unknown>;
  sets: { train: SplitManifestSet; validation: SplitManifestSet; test: SplitManifestSet };
}

/**
 * What a model was trained and evaluated on, to store next to it: speakers, clip paths and label
 * counts per set. Paths are made relative to `relativeTo` when given, so the manifest can move.
 */
export function splitManifest(
  split: ClipSets,
  options: { meta?: Record<string, unknown>; relativeTo?: string } = {},
): SplitManifest {
  const sets = {
    train: split.train,
    validation: split.validation ?? [],
    test: split.test ?? [],
  };
  const present = new Set(Object.values(sets).flatMap((cs) => cs.map((c) => c.label)));
  const labels = EMOTIONS.filter((e) => present.has(e));
  const describe = (cs: Clip[]): SplitManifestSet => ({
    speakers: speakersOf(cs),
    clips: cs.map((c) => (options.relativeTo ? relative(options.relativeTo, c.path) : c.path)),
    labels: countLabels(cs, labels),
  });
  return {
    version: 1,
    meta: options.meta ?? {},
    sets: {
      train: describe(sets.train),
      validation: describe(sets.validation),
      test: describe(sets.test),
    },
  };
}

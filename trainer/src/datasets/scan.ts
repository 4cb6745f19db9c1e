import { stat } from "node:fs/promises";
import { extname, join } from "node:path";
import { cremadReader } from "./cremad.js";
import { genericReader, UNKNOWN_SPEAKER } from "./generic.js";
import { ravdessReader } from "./ravdess.js";
import type { CorpusReader, ParsedName, ReaderOptions } from "./reader.js";
import { saveeReader } from "./savee.js";
import { tessReader } from "./tess.js";
import type { Clip, CorpusName } from "./types.js";
import { compareNatural, walkAudioFiles } from "./walk.js";

/** Named corpora first: a RAVDESS file inside an "angry/" folder is still a RAVDESS file. */
export const READERS: readonly CorpusReader[] = [
  ravdessReader,
  cremadReader,
  tessReader,
  saveeReader,
  genericReader,
];

export interface ScanOptions {
  includeSong?: boolean;
  /** Generic layout only; a string is compiled as a RegExp and must have a capture group. */
  speakerRegex?: RegExp | string;
}

export interface SkippedFile {
  path: string;
  /** Shared by similar files, so that listings can group by it. */
  reason: string;
  /** File-specific addition, e.g. the copy kept instead of a duplicate. */
  detail?: string;
}

/** One corpus found below one of the given directories. */
export interface CorpusFound {
  root: string;
  corpus: CorpusName;
  clips: number;
  speakers: string[];
}

export interface ScanResult {
  clips: Clip[];
  skipped: SkippedFile[];
  corpora: CorpusFound[];
  /** Things the caller must show, e.g. clips without a speaker. */
  warnings: string[];
}

/** Compiles --speaker-regex; throws a plain Error with a readable message when it is unusable. */
export function compileSpeakerRegex(re: RegExp | string): RegExp {
  let regex: RegExp;
  try {
    regex = typeof re === "string" ? new RegExp(re) : re;
  } catch (err) {
    throw new Error(`--speaker-regex: ${(err as Error).message}`);
  }
  // A capture group is how the speaker is taken out of the name; without one there is nothing.
  if (new RegExp(`${regex.source}|`).exec("")?.length === 1) {
    throw new Error(`--speaker-regex ${regex.source} has no capture group, e.g. ^(\\w+?)_`);
  }
  return regex;
}

/** Copies of one recording in several formats: keep the lossless one. */
const FORMAT_PREFERENCE = [".wav", ".flac", ".mp3"];

function formatRank(path: string): number {
  return FORMAT_PREFERENCE.indexOf(extname(path).toLowerCase());
}

function unclaimedReason(dominant: CorpusReader | undefined, segments: string[]): string {
  if (dominant?.corpus === "generic") {
    return segments.length < 2
      ? `not in a label folder (${dominant.pattern})`
      : `folder "${segments[0]}" is not an emotion label (${dominant.pattern})`;
  }
  if (dominant) return `name does not follow the ${dominant.corpus} pattern ${dominant.pattern}`;
  return (
    "not recognised: expected RAVDESS, CREMA-D, TESS or SAVEE file names, " +
    "or a DIR/<label>/ layout with emotion folder names"
  );
}

interface Candidate {
  root: string;
  path: string;
  corpus: CorpusName;
  parsed: ParsedName;
}

/**
 * Finds the labelled clips below each directory. The corpus is recognised per file from its
 * name (so one folder may hold several corpora); a file that cannot be used goes to `skipped`
 * with the reason, and nothing aborts the scan.
 */
export async function scanDatasets(dirs: string[], opts: ScanOptions = {}): Promise<ScanResult> {
  const readerOpts: ReaderOptions = {
    includeSong: opts.includeSong ?? false,
    ...(opts.speakerRegex !== undefined
      ? { speakerRegex: compileSpeakerRegex(opts.speakerRegex) }
      : {}),
  };
  const skipped: SkippedFile[] = [];
  const warnings: string[] = [];
  const candidates: Candidate[] = [];

  for (const root of dirs) {
    try {
      if (!(await stat(root)).isDirectory()) {
        skipped.push({ path: root, reason: "not a directory; pass the folder holding the corpus" });
        continue;
      }
    } catch {
      skipped.push({ path: root, reason: "directory not found" });
      continue;
    }
    const walked = await walkAudioFiles(root);
    skipped.push(...walked.errors);
    if (walked.files.length === 0) {
      warnings.push(`${root}: no .wav, .flac or .mp3 files found`);
      continue;
    }
    const claimed = walked.files.map((segments) => ({
      segments,
      reader: READERS.find((r) => r.claims(segments)),
    }));
    const dominant = mostCommonReader(claimed.map((c) => c.reader));
    for (const { segments, reader } of claimed) {
      const path = join(root, ...segments);
      if (!reader) {
        skipped.push({ path, reason: unclaimedReason(dominant, segments) });
        continue;
      }
      const result = reader.parse(segments, readerOpts);
      if (!result.ok) skipped.push({ path, reason: result.reason });
      else candidates.push({ root, path, corpus: reader.corpus, parsed: result.parsed });
    }
  }

  const kept = dropDuplicates(candidates, skipped);
  const clips: Clip[] = kept.map((c) => ({
    path: c.path,
    label: c.parsed.label,
    speaker: `${c.corpus}:${c.parsed.speaker}`,
    corpus: c.corpus,
    extras: c.parsed.extras,
  }));
  const corpora = corporaFound(kept);
  for (const found of corpora) {
    if (found.corpus !== "generic") continue;
    const unknown = kept.filter(
      (c) =>
        c.root === found.root && c.corpus === "generic" && c.parsed.speaker === UNKNOWN_SPEAKER,
    ).length;
    if (unknown > 0) {
      warnings.push(
        `${found.root}: ${unknown} clips have no speaker (DIR/<label>/FILE); no speaker-independent ` +
          "split is possible for them. Use DIR/<label>/<speaker>/FILE or --speaker-regex.",
      );
    }
  }
  return { clips, skipped, corpora, warnings };
}

function mostCommonReader(readers: (CorpusReader | undefined)[]): CorpusReader | undefined {
  const counts = new Map<CorpusReader, number>();
  for (const r of readers) if (r) counts.set(r, (counts.get(r) ?? 0) + 1);
  let best: CorpusReader | undefined;
  for (const [r, n] of counts) if (!best || n > (counts.get(best) ?? 0)) best = r;
  return best;
}

/** One clip per recording: AudioWAV/ and AudioMP3/ copies, or a folder passed twice. */
function dropDuplicates(candidates: Candidate[], skipped: SkippedFile[]): Candidate[] {
  const byKey = new Map<string, Candidate>();
  for (const c of candidates) {
    const key = `${c.corpus}|${c.parsed.speaker}|${c.parsed.key}`;
    const prev = byKey.get(key);
    if (!prev) {
      byKey.set(key, c);
      continue;
    }
    const better = formatRank(c.path) < formatRank(prev.path) ? c : prev;
    const worse = better === c ? prev : c;
    byKey.set(key, better);
    skipped.push({
      path: worse.path,
      reason: "another copy of the same recording was kept (wav before flac before mp3)",
      detail: `kept ${better.path}`,
    });
  }
  return [...byKey.values()].sort((a, b) => compareNatural(a.path, b.path));
}

function corporaFound(kept: Candidate[]): CorpusFound[] {
  const groups = new Map<string, CorpusFound>();
  for (const c of kept) {
    const id = `${c.root}\u0000${c.corpus}`;
    let g = groups.get(id);
    if (!g) {
      g = { root: c.root, corpus: c.corpus, clips: 0, speakers: [] };
      groups.set(id, g);
    }
    g.clips++;
    const speaker = `${c.corpus}:${c.parsed.speaker}`;
    if (!g.speakers.includes(speaker)) g.speakers.push(speaker);
  }
  for (const g of groups.values()) g.speakers.sort(compareNatural);
  return [...groups.values()];
}

import type { CorpusName, Emotion } from "./types.js";

/** Audio file extensions the agent can decode (see @ser-edge/agent/audio). */
export const AUDIO_EXTENSIONS = [".wav", ".flac", ".mp3"] as const;

export interface ReaderOptions {
  /** RAVDESS: also read the sung clips (vocal channel 02). */
  includeSong?: boolean;
  /** Generic layout: speaker id = first capture group of this regex applied to the file name. */
  speakerRegex?: RegExp;
}

/** What a reader makes of one file name before the path is attached. */
export interface ParsedName {
  label: Emotion;
  /** Without the corpus prefix; the scanner adds it. */
  speaker: string;
  extras: Record<string, string>;
  /** Identifies the recording regardless of folder and format, to drop duplicate copies. */
  key: string;
}

export type ParseResult = { ok: true; parsed: ParsedName } | { ok: false; reason: string };

/**
 * A corpus reader works on the path segments below the dataset root, e.g.
 * ["Actor_01", "03-01-01-01-01-01-01.flac"]. `claims` is a loose test used to detect the corpus;
 * `parse` is strict and explains why a claimed file cannot be used.
 */
export interface CorpusReader {
  corpus: CorpusName;
  /** Human-readable name pattern, used in skip reasons. */
  pattern: string;
  claims(segments: readonly string[]): boolean;
  parse(segments: readonly string[], opts: ReaderOptions): ParseResult;
}

export const ok = (parsed: ParsedName): ParseResult => ({ ok: true, parsed });
export const skip = (reason: string): ParseResult => ({ ok: false, reason });

export function baseName(segments: readonly string[]): string {
  return segments[segments.length - 1] ?? "";
}

/** The file name without its audio extension (lower-case match, original case kept). */
export function stem(name: string): string {
  const dot = name.lastIndexOf(".");
  return dot > 0 ? name.slice(0, dot) : name;
}

export function isAudioFile(name: string): boolean {
  const lower = name.toLowerCase();
  return AUDIO_EXTENSIONS.some((ext) => lower.endsWith(ext));
}

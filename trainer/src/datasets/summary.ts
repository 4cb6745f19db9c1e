import { readAudioFile } from "@ser-edge/agent/audio";
import { countLabels } from "./labels.js";
import type { SkippedFile } from "./scan.js";
import { speakersOf } from "./splits.js";
import type { Clip, CorpusName, Emotion } from "./types.js";

export interface CorpusSummary {
  corpus: CorpusName;
  roots: string[];
  clips: number;
  speakers: string[];
  labels: Record<string, number>;
  /** Seconds of audio; absent when files were not decoded. */
  durationSec?: number;
}

export interface DatasetSummary {
  /** Labels after --merge/--labels, in EMOTIONS order. */
  labels: Emotion[];
  corpora: CorpusSummary[];
  total: {
    clips: number;
    speakers: string[];
    labels: Record<string, number>;
    durationSec?: number;
  };
  /** Clips whose label --labels left out. */
  droppedByLabels: number;
  skipped: SkippedFile[];
  unreadable: SkippedFile[];
  warnings: string[];
}

export interface SummaryInput {
  /** Usable clips, after label options and without unreadable files. */
  clips: Clip[];
  labels: Emotion[];
  /** Root each clip was found under, by corpus, for display. */
  roots: { corpus: CorpusName; root: string }[];
  durations?: Map<string, number>;
  droppedByLabels: number;
  skipped: SkippedFile[];
  unreadable: SkippedFile[];
  warnings: string[];
}

function sumDurations(clips: Clip[], durations?: Map<string, number>): number | undefined {
  if (!durations) return undefined;
  return clips.reduce((s, c) => s + (durations.get(c.path) ?? 0), 0);
}

export function summarize(input: SummaryInput): DatasetSummary {
  const byCorpus = new Map<CorpusName, Clip[]>();
  for (const c of input.clips) byCorpus.set(c.corpus, [...(byCorpus.get(c.corpus) ?? []), c]);
  const corpora: CorpusSummary[] = [...byCorpus].map(([corpus, clips]) => {
    const durationSec = sumDurations(clips, input.durations);
    return {
      corpus,
      roots: [...new Set(input.roots.filter((r) => r.corpus === corpus).map((r) => r.root))],
      clips: clips.length,
      speakers: speakersOf(clips),
      labels: countLabels(clips, input.labels),
      ...(durationSec === undefined ? {} : { durationSec }),
    };
  });
  const durationSec = sumDurations(input.clips, input.durations);
  return {
    labels: input.labels,
    corpora,
    total: {
      clips: input.clips.length,
      speakers: speakersOf(input.clips),
      labels: countLabels(input.clips, input.labels),
      ...(durationSec === undefined ? {} : { durationSec }),
    },
    droppedByLabels: input.droppedByLabels,
    skipped: input.skipped,
    unreadable: input.unreadable,
    warnings: input.warnings,
  };
}

/**
 * Decodes every clip to learn its duration, `concurrency` files at a time (decoding is CPU-bound
 * and a whole corpus in memory at once would not fit). Failures are collected, never thrown.
 */
export async function measureDurations(
  clips: readonly Clip[],
  options: { concurrency?: number; onProgress?: (done: number, total: number) => void } = {},
): Promise<{ durations: Map<string, number>; unreadable: SkippedFile[] }> {
  const durations = new Map<string, number>();
  const failed = new Map<string, string>();
  let next = 0;
  let done = 0;
  const worker = async () => {
    while (next < clips.length) {
      const clip = clips[next++];
      try {
        durations.set(clip.path, (await readAudioFile(clip.path)).durationSec);
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        // AudioError messages start with the path; the listing prints the path itself.
        const reason = message.startsWith(`${clip.path}: `)
          ? message.slice(clip.path.length + 2)
          : message;
        failed.set(clip.path, reason);
      }
      options.onProgress?.(++done, clips.length);
    }
  };
  const n = Math.max(1, Math.min(options.concurrency ?? 4, clips.length));
  await Promise.all(Array.from({ length: n }, worker));
  // Report in clip order, not in the order decoders happened to finish.
  const unreadable = clips
    .filter((c) => failed.has(c.path))
    .map((c) => ({ path: c.path, reason: failed.get(c.path) ?? "" }));
  return { durations, unreadable };
}

export function formatDuration(sec: number): string {
  if (sec < 60) return `${sec.toFixed(1)} s`;
  const s = Math.round(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, "0");
  return h > 0 ? `${h}h ${pad(m)}m ${pad(s % 60)}s` : `${m}m ${pad(s % 60)}s`;
}

const plural = (n: number, word: string, many = `${word}s`) => `${n} ${n === 1 ? word : many}`;

/** Paths shown per skip reason in the text listing; --json has them all. */
const EXAMPLES_PER_REASON = 5;

/** `head` followed by comma-separated items, wrapped at 100 columns. */
function wrap(head: string, items: string[], indent: string): string[] {
  const lines: string[] = [];
  let line = head;
  items.forEach((item, i) => {
    const piece = i < items.length - 1 ? `${item},` : item;
    if (line.length + piece.length + 1 > 100 && line.trim() !== head.trim()) {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += line === indent || line === head ? piece : ` ${piece}`;
  });
  lines.push(line.trimEnd());
  return lines;
}

/** The human-readable report of `ser-trainer datasets`. */
export function formatSummary(s: DatasetSummary): string {
  const lines: string[] = [];
  const dur = (d?: number) => (d === undefined ? "" : `, ${formatDuration(d)}`);
  lines.push(
    `Found ${plural(s.total.clips, "clip")} from ${plural(s.corpora.length, "corpus", "corpora")}, ` +
      `${plural(s.total.speakers.length, "speaker")}${dur(s.total.durationSec)}.`,
  );
  if (s.droppedByLabels > 0) {
    lines.push(`${plural(s.droppedByLabels, "clip")} left out by --labels.`);
  }
  if (s.corpora.length > 0) {
    lines.push("", "Corpora:");
    const w = Math.max(...s.corpora.map((c) => c.corpus.length));
    for (const c of s.corpora) {
      lines.push(
        `  ${c.corpus.padEnd(w)}  ${plural(c.clips, "clip")}, ` +
          `${plural(c.speakers.length, "speaker")}${dur(c.durationSec)}  in ${c.roots.join(", ")}`,
      );
    }
    lines.push("", "Clips per label:");
    const cols = [...s.corpora.map((c) => c.corpus), "total"];
    const cw = cols.map((c) => Math.max(7, c.length));
    const lw = Math.max(9, ...s.labels.map((l) => l.length));
    lines.push(`  ${"label".padEnd(lw)}${cols.map((c, i) => `  ${c.padStart(cw[i])}`).join("")}`);
    for (const label of s.labels) {
      const counts = [...s.corpora.map((c) => c.labels[label] ?? 0), s.total.labels[label] ?? 0];
      lines.push(
        `  ${label.padEnd(lw)}${counts.map((n, i) => `  ${String(n).padStart(cw[i])}`).join("")}`,
      );
    }
    lines.push("", `Speakers (${s.total.speakers.length}):`);
    for (const c of s.corpora) {
      lines.push(...wrap(`  ${c.corpus} (${c.speakers.length}): `, c.speakers, "    "));
    }
  }
  if (s.skipped.length > 0) {
    lines.push("", `Skipped ${plural(s.skipped.length, "file")}:`);
    const byReason = new Map<string, string[]>();
    for (const k of s.skipped) {
      const line = k.detail ? `${k.path} (${k.detail})` : k.path;
      byReason.set(k.reason, [...(byReason.get(k.reason) ?? []), line]);
    }
    for (const [reason, paths] of byReason) {
      lines.push(`  ${reason} (${paths.length}):`);
      for (const p of paths.slice(0, EXAMPLES_PER_REASON)) lines.push(`    ${p}`);
      if (paths.length > EXAMPLES_PER_REASON) {
        lines.push(`    ... and ${paths.length - EXAMPLES_PER_REASON} more (--json lists all)`);
      }
    }
  }
  if (s.unreadable.length > 0) {
    lines.push("", `Unreadable ${plural(s.unreadable.length, "file")} (left out):`);
    for (const u of s.unreadable) lines.push(`  ${u.path}: ${u.reason}`);
  }
  if (s.warnings.length > 0) {
    lines.push("", "Warnings:");
    for (const w of s.warnings) lines.push(`  ${w}`);
  }
  return `${lines.join("\n")}\n`;
}

/** One side of a split: its speakers, clip count and clips per label (every label listed). */
export function splitPart(
  clips: readonly Clip[],
  labels: readonly string[],
): { speakers: string[]; clips: number; labelCounts: Record<string, number> } {
  const labelCounts = Object.fromEntries(labels.map((l) => [l, 0]));
  for (const c of clips) labelCounts[c.label] = (labelCounts[c.label] ?? 0) + 1;
  return {
    speakers: [...new Set(clips.map((c) => c.speaker))].sort(),
    clips: clips.length,
    labelCounts,
  };
}

/** Speaker-split summaries for the report: compact lists and an independence check. */

/** Speakers and clips of one split. */
export interface SplitPart {
  speakers: string[];
  clips: number;
  labelCounts: Record<string, number>;
}

export interface SplitInfo {
  train: SplitPart;
  validation: SplitPart;
  test?: SplitPart;
}

/** The split's parts in display order, leaving out a missing test part. */
export function splitParts(split: SplitInfo): [string, SplitPart][] {
  const parts: [string, SplitPart][] = [
    ["train", split.train],
    ["validation", split.validation],
  ];
  if (split.test) parts.push(["test", split.test]);
  return parts;
}

/** Speakers found in more than one part, e.g. "ravdess:03 (train, test)". Empty when clean. */
export function speakerOverlaps(split: SplitInfo): string[] {
  const seen = new Map<string, string[]>();
  for (const [name, part] of splitParts(split)) {
    for (const s of new Set(part.speakers)) seen.set(s, [...(seen.get(s) ?? []), name]);
  }
  return [...seen]
    .filter(([, sets]) => sets.length > 1)
    .map(([s, sets]) => `${s} (${sets.join(", ")})`);
}

/** "1, 2, 3, 5" → "1–3, 5", keeping the ids' zero padding. */
function ranges(ids: string[]): string {
  const sorted = [...ids].sort((a, b) => Number(a) - Number(b));
  const out: string[] = [];
  let start = 0;
  for (let i = 1; i <= sorted.length; i++) {
    if (i < sorted.length && Number(sorted[i]) === Number(sorted[i - 1]) + 1) continue;
    const a = sorted[start];
    const b = sorted[i - 1];
    out.push(i - 1 === start ? a : i - 1 === start + 1 ? `${a}, ${b}` : `${a}–${b}`);
    start = i;
  }
  return out.join(", ");
}

/**
 * Short text for a speaker list: ids are grouped by corpus prefix ("ravdess:07") and numeric
 * runs collapsed ("ravdess 01–16"), so 24 RAVDESS actors fit on one line; other ids are listed
 * up to `max` per corpus.
 */
export function summarizeSpeakers(speakers: string[], max = 10): string {
  const groups = new Map<string, string[]>();
  for (const s of new Set(speakers)) {
    const cut = s.lastIndexOf(":");
    const prefix = cut >= 0 ? s.slice(0, cut) : "";
    groups.set(prefix, [...(groups.get(prefix) ?? []), cut >= 0 ? s.slice(cut + 1) : s]);
  }
  const parts = [...groups].map(([prefix, ids]) => {
    const body = ids.every((id) => /^\d+$/.test(id))
      ? ranges(ids)
      : ids.length > max
        ? `${ids.slice(0, max).join(", ")}, … ${ids.length - max} more`
        : ids.join(", ");
    return prefix ? `${prefix} ${body}` : body;
  });
  return parts.join("; ");
}

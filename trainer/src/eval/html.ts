/** Text helpers shared by the report's HTML and SVG (same escaping rules for both). */

const ENTITIES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/** Escapes text for element content and double- or single-quoted attribute values. */
export function esc(text: unknown): string {
  return String(text).replace(/[&<>"']/g, (ch) => ENTITIES[ch]);
}

/** A rate in [0, 1] as a percentage; "–" for values that are missing or not finite. */
export function pct(x: number | undefined, digits = 1): string {
  return x === undefined || !Number.isFinite(x) ? "–" : `${(100 * x).toFixed(digits)}%`;
}

/** A number rounded for display; "–" for values that are missing or not finite. */
export function num(x: number | undefined, digits = 3): string {
  return x === undefined || !Number.isFinite(x) ? "–" : Number(x.toFixed(digits)).toString();
}

/** 1234567 → "1.23 M": parameter counts are read by order of magnitude. */
export function compact(x: number): string {
  if (Math.abs(x) >= 1e6) return `${(x / 1e6).toFixed(2)} M`;
  if (Math.abs(x) >= 1e3) return `${(x / 1e3).toFixed(1)} k`;
  return String(x);
}

/** Seconds as "1 h 02 min", "3 min 05 s" or "12.3 s". */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds)) return "–";
  if (seconds < 60) return `${seconds.toFixed(1)} s`;
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (v: number) => String(v).padStart(2, "0");
  return h > 0 ? `${h} h ${pad(m)} min` : `${m} min ${pad(s % 60)} s`;
}

/**
 * Turning log fields into plain, bounded JSON values. The one rule that matters: audio never
 * reaches a log line. Typed arrays, buffers and long numeric arrays (samples, feature matrices)
 * are replaced by a short description of what was there; long strings are cut.
 */

/** Arrays longer than this are summarised rather than written out. */
export const MAX_ARRAY_ITEMS = 32;
/** Strings longer than this are cut (a base64 blob is as bad as a sample array). */
export const MAX_STRING_CHARS = 2048;
/** Nesting deeper than this is summarised. */
export const MAX_DEPTH = 6;

export type Plain = null | boolean | number | string | Plain[] | { [key: string]: Plain };

function cutString(s: string): string {
  return s.length > MAX_STRING_CHARS
    ? `${s.slice(0, MAX_STRING_CHARS)}…(${s.length - MAX_STRING_CHARS} more chars)`
    : s;
}

function errorFields(e: Error, depth: number, seen: WeakSet<object>): Plain {
  const out: { [key: string]: Plain } = { name: e.name, message: cutString(e.message) };
  const code = (e as { code?: unknown }).code;
  if (typeof code === "string" || typeof code === "number") out.code = code;
  if (e.stack) out.stack = cutString(e.stack);
  if (e.cause !== undefined) out.cause = toPlain(e.cause, depth + 1, seen);
  return out;
}

/** A JSON-safe copy of `value` with audio-like and oversized content summarised. */
export function toPlain(value: unknown, depth = 0, seen = new WeakSet<object>()): Plain {
  switch (typeof value) {
    case "string":
      return cutString(value);
    case "number":
      // JSON has no NaN or Infinity; keep them readable instead of turning them into null.
      return Number.isFinite(value) ? value : String(value);
    case "boolean":
      return value;
    case "bigint":
      return value.toString();
    case "undefined":
      return null;
    case "function":
      return `[function ${value.name || "anonymous"}]`;
    case "symbol":
      return value.toString();
  }
  if (value === null) return null;
  const obj = value as object;
  if (ArrayBuffer.isView(obj)) {
    const kind = obj.constructor?.name ?? "TypedArray";
    const length = "length" in obj ? (obj as { length: number }).length : obj.byteLength;
    return `[${kind} length=${length} omitted]`;
  }
  if (obj instanceof ArrayBuffer || obj instanceof SharedArrayBuffer) {
    return `[${obj.constructor.name} bytes=${obj.byteLength} omitted]`;
  }
  if (obj instanceof Date) return Number.isNaN(obj.getTime()) ? "Invalid Date" : obj.toISOString();
  if (seen.has(obj)) return "[circular]";
  if (depth >= MAX_DEPTH) return Array.isArray(obj) ? "[array]" : "[object]";
  seen.add(obj);
  try {
    if (obj instanceof Error) return errorFields(obj, depth, seen);
    if (Array.isArray(obj)) {
      if (obj.length > MAX_ARRAY_ITEMS) {
        const numeric = obj.every((x) => typeof x === "number");
        return `[array of ${obj.length} ${numeric ? "numbers" : "items"} omitted]`;
      }
      return obj.map((x) => toPlain(x, depth + 1, seen));
    }
    if (obj instanceof Map) return toPlain(Object.fromEntries(obj), depth, seen);
    if (obj instanceof Set) return toPlain([...obj], depth, seen);
    const out: { [key: string]: Plain } = {};
    for (const [k, v] of Object.entries(obj)) {
      if (v !== undefined) out[k] = toPlain(v, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(obj);
  }
}

/** logfmt: bare when safe, else double-quoted with \\, \" and control characters escaped. */
export function logfmtValue(v: Plain): string {
  const s = v === null ? "null" : typeof v === "object" ? JSON.stringify(v) : String(v);
  if (s !== "" && /^[^\s"=\\\p{Cc}]+$/u.test(s)) return s;
  return JSON.stringify(s);
}

/** Keys may not contain spaces, "=" or quotes in logfmt; anything else becomes "_". */
export function logfmtKey(k: string): string {
  const safe = k.replace(/[\s="\\\p{Cc}]/gu, "_");
  return safe === "" ? "_" : safe;
}

/** Nested objects become dotted keys (`scores.happy=0.8`); arrays stay JSON. */
export function flattenForLogfmt(
  fields: { [key: string]: Plain },
  prefix = "",
  out: [string, Plain][] = [],
): [string, Plain][] {
  for (const [k, v] of Object.entries(fields)) {
    const key = prefix ? `${prefix}.${k}` : k;
    if (v !== null && typeof v === "object" && !Array.isArray(v) && Object.keys(v).length > 0) {
      flattenForLogfmt(v, key, out);
    } else {
      out.push([key, v]);
    }
  }
  return out;
}

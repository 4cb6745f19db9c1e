import type { Manifest } from "./manifest.js";

/** A value that has no single JSON form (NaN, a function, a Date...). */
export class CanonicalJsonError extends Error {
  override readonly name = "CanonicalJsonError";
}

/**
 * Orders UTF-16 code units as their code points: surrogates (0xD800-0xDFFF) encode code points
 * above 0xFFFF, so they must sort after 0xE000-0xFFFF, not before.
 */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

function isPlainObject(v: object): boolean {
  const proto = Object.getPrototypeOf(v);
  return proto === Object.prototype || proto === null;
}

function write(value: unknown, at: string, stack: Set<object>): string {
  switch (typeof value) {
    case "string":
      return JSON.stringify(value);
    case "boolean":
      return value ? "true" : "false";
    case "number":
      if (!Number.isFinite(value)) {
        throw new CanonicalJsonError(`${at} is ${value}, which JSON cannot represent`);
      }
      // ECMAScript's shortest round-trip form, as RFC 8785 prescribes; -0 becomes 0.
      return JSON.stringify(value);
    case "object": {
      if (value === null) return "null";
      if (stack.has(value)) throw new CanonicalJsonError(`${at} refers back to itself`);
      stack.add(value);
      let out: string;
      if (Array.isArray(value)) {
        out = `[${value
          .map((v, i) => {
            if (v === undefined) throw new CanonicalJsonError(`${at}[${i}] is undefined`);
            return write(v, `${at}[${i}]`, stack);
          })
          .join(",")}]`;
      } else if (isPlainObject(value)) {
        const rec = value as Record<string, unknown>;
        // Undefined properties are absent, as with JSON.stringify (optional manifest fields).
        const keys = Object.keys(rec)
          .filter((k) => rec[k] !== undefined)
          .sort(compareCodePoints);
        out = `{${keys.map((k) => `${JSON.stringify(k)}:${write(rec[k], `${at}.${k}`, stack)}`).join(",")}}`;
      } else {
        const kind = value.constructor?.name ?? "object";
        throw new CanonicalJsonError(`${at} is a ${kind}; only plain objects and arrays are JSON`);
      }
      stack.delete(value);
      return out;
    }
    default:
      throw new CanonicalJsonError(
        `${at} is ${typeof value === "undefined" ? "undefined" : `a ${typeof value}`}, which JSON cannot represent`,
      );
  }
}

/**
 * Deterministic JSON: object keys sorted by code point at every level, no whitespace, arrays in
 * order. Two equal values always give the same bytes, which is what a signature needs.
 */
export function canonicalJson(value: unknown): string {
  return write(value, "$", new Set());
}

/** The bytes an Ed25519 signature covers: the canonical manifest without its signature. */
export function signedPayload(manifest: Manifest): Uint8Array {
  const { signature: _omit, ...rest } = manifest;
  return new TextEncoder().encode(canonicalJson(rest));
}

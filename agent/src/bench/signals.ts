/**
 * Test signals for the benchmarks: a quiet room, speech trimmed and butted together, and the
 * statistics over the measurements. Shared by `ser-agent bench` (on the device) and
 * bench/runtime.bench.ts (in the repository).
 */

const FRAME = 160; // 10 ms at 16 kHz

/** The q-quantile (0..1) of xs, the nearest rank; NaN for no values. */
export function quantile(xs: readonly number[], q: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : Number.NaN;
}

/** Rounds to 16-bit steps, as a microphone read with `arecord -f S16_LE` delivers samples. */
export function toS16Steps(x: Float32Array): Float32Array {
  for (let i = 0; i < x.length; i++) {
    x[i] = Math.max(-32768, Math.min(32767, Math.round(x[i] * 32768))) / 32768;
  }
  return x;
}

/**
 * A quiet room: Gaussian white noise at `dbfs` (default -70 dBFS, a quiet room through a USB
 * microphone), seeded so that every run hears the same samples.
 */
export function quietRoom(samples: number, dbfs = -70, seed = 12345): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(samples);
  const a = 10 ** (dbfs / 20);
  for (let i = 0; i < samples; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const u1 = (s + 1) / 4294967297;
    s = (s * 1103515245 + 12345) >>> 0;
    const u2 = s / 4294967296;
    out[i] = a * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

/** The clip's 10 ms frames within 30 dB of its loudest: the speech, without the quiet edges. */
export function trimToSpeech(x: Float32Array): Float32Array {
  const db: number[] = [];
  for (let f = 0; f + FRAME <= x.length; f += FRAME) {
    let s = 0;
    for (let i = f; i < f + FRAME; i++) s += x[i] * x[i];
    db.push(10 * Math.log10(s / FRAME + 1e-20));
  }
  if (db.length === 0) return x;
  const peak = Math.max(...db);
  const first = db.findIndex((d) => d >= peak - 30);
  let last = db.length - 1;
  while (last > first && db[last] < peak - 30) last--;
  return x.slice(first * FRAME, (last + 1) * FRAME);
}

/** `parts` one after the other, over and over, cut at exactly `samples`. */
export function repeatTo(parts: readonly Float32Array[], samples: number): Float32Array {
  const out = new Float32Array(samples);
  if (!parts.some((p) => p.length > 0)) return out;
  for (let at = 0, i = 0; at < samples; i++) {
    const p = parts[i % parts.length].subarray(0, samples - at);
    out.set(p, at);
    at += p.length;
  }
  return out;
}

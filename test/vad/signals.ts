// Generated test signals for the VAD tests: silence, noise at known levels and synthetic voiced
// bursts (a glottal-like harmonic series shaped by three formant resonances, with pitch drift
// and a syllable-rate loudness envelope) at known times. Deterministic (seeded PRNG).

export const SR = 16000;

/** xorshift32 in [0, 1). */
export function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

/** Gaussian white noise with RMS `10^(db/20)` (dBFS of the mean square). */
export function whiteNoise(seconds: number, db: number, seed = 1): Float32Array {
  const r = rng(seed);
  const n = Math.round(seconds * SR);
  const out = new Float32Array(n);
  const a = 10 ** (db / 20);
  for (let i = 0; i < n; i++) {
    const u = Math.max(r(), 1e-12);
    out[i] = a * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
  }
  return out;
}

export function dbfs(x: Float32Array, from = 0, to = x.length): number {
  let s = 0;
  for (let i = from; i < to; i++) s += x[i] * x[i];
  return 10 * Math.log10(s / Math.max(1, to - from) + 1e-20);
}

/** Formant peak gain at frequency f (a crude vowel envelope: resonances near 700/1200/2600 Hz). */
function formantGain(f: number): number {
  const peak = (fc: number, bw: number) => 1 / (1 + ((f - fc) / bw) ** 2);
  return peak(700, 130) + 0.6 * peak(1200, 150) + 0.25 * peak(2600, 250) + 0.02;
}

/**
 * A voiced burst of `seconds` at level `db` dBFS (RMS over the burst): harmonics of f0 (drifting
 * +-8%) up to 4 kHz weighted by the formant envelope, with 4 Hz syllable modulation and 20 ms
 * fades at both ends.
 */
export function voicedBurst(seconds: number, db: number, f0 = 140, seed = 7): Float32Array {
  const r = rng(seed);
  const n = Math.round(seconds * SR);
  const out = new Float32Array(n);
  const phases = new Float64Array(64).map(() => 2 * Math.PI * r());
  const drift = r() * 2 * Math.PI;
  let phase0 = 0;
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    const f = f0 * (1 + 0.08 * Math.sin(2 * Math.PI * 1.3 * t + drift));
    phase0 += (2 * Math.PI * f) / SR;
    let v = 0;
    for (let h = 1; h * f < 4000 && h < 64; h++) {
      v += (formantGain(h * f) / Math.sqrt(h)) * Math.sin(h * phase0 + phases[h]);
    }
    const syllable = 0.55 + 0.45 * Math.sin(2 * Math.PI * 4 * t - Math.PI / 2) ** 2;
    const fade = Math.min(1, t / 0.02, (seconds - t) / 0.02);
    out[i] = v * syllable * fade;
  }
  const scale = 10 ** (db / 20) / 10 ** (dbfs(out) / 20);
  for (let i = 0; i < n; i++) out[i] *= scale;
  return out;
}

/** Adds `part` into `x` at `atSeconds`. */
export function mixAt(x: Float32Array, part: Float32Array, atSeconds: number): void {
  const at = Math.round(atSeconds * SR);
  for (let i = 0; i < part.length && at + i < x.length; i++) x[at + i] += part[i];
}

import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { readAudioFile } from "@ser-edge/agent/audio";
import type { Rng } from "./random.js";

/** Synthetic noise colours; a Float32Array instead means "this recording". */
export type NoiseColour = "white" | "pink";

/** Mean square of a signal (0 for an empty one). */
export function meanPower(x: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return x.length === 0 ? 0 : s / x.length;
}

/** Gaussian white noise of unit variance. */
export function whiteNoise(length: number, rng: Rng): Float32Array {
  const out = new Float32Array(length);
  for (let i = 0; i < length; i++) out[i] = rng.normal();
  return out;
}

/**
 * Pink (1/f, -3 dB/octave) noise: white noise through Paul Kellet's "refined" pink filter,
 * a sum of six one-pole sections accurate to +-0.05 dB. The filter is defined by its pole radii,
 * so at 16 kHz it stays 1/f from ~3 Hz to Nyquist (1/f is scale-invariant). Its output is
 * rescaled by the caller, so the absolute level does not matter.
 */
export function pinkNoise(length: number, rng: Rng): Float32Array {
  const out = new Float32Array(length);
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let b3 = 0;
  let b4 = 0;
  let b5 = 0;
  let b6 = 0;
  // The slowest section (pole 0.99886) needs ~1000 samples to settle; run it in first so the
  // start of the noise is not quieter and darker than the rest.
  const warmup = 4096;
  for (let i = -warmup; i < length; i++) {
    const w = rng.normal();
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.969 * b2 + w * 0.153852;
    b3 = 0.8665 * b3 + w * 0.3104856;
    b4 = 0.55 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.016898;
    const pink = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
    if (i >= 0) out[i] = pink;
  }
  return out;
}

/** `length` samples of a recording from a random offset, looping it when it is too short. */
export function loopCrop(noise: Float32Array, length: number, rng: Rng): Float32Array {
  if (noise.length === 0) throw new RangeError("noise recording is empty");
  const out = new Float32Array(length);
  let src = rng.int(noise.length);
  let i = 0;
  while (i < length) {
    const n = Math.min(length - i, noise.length - src);
    out.set(noise.subarray(src, src + n), i);
    i += n;
    src = 0;
  }
  return out;
}

/**
 * x + noise scaled so that 10 log10(P_signal / P_noise) = snrDb exactly, where P is the mean
 * square over the WHOLE clip. Simple and what the reference projects do, but leading/trailing
 * silence lowers P_signal, so the SNR over the speech itself is higher than nominal by
 * 10 log10(1 / speech fraction) (about 1.5 dB for a clip that is 70% speech). A silent clip is
 * returned unchanged (as a copy): an SNR relative to nothing has no meaning.
 * No clipping is applied; the gain stage (if used) limits the peak.
 */
export function addNoise(
  x: Float32Array,
  noise: Float32Array | NoiseColour,
  snrDb: number,
  rng: Rng,
): Float32Array {
  if (!Number.isFinite(snrDb)) throw new RangeError(`snrDb must be finite, got ${snrDb}`);
  const signalPower = meanPower(x);
  const n =
    noise === "white"
      ? whiteNoise(x.length, rng)
      : noise === "pink"
        ? pinkNoise(x.length, rng)
        : loopCrop(noise, x.length, rng);
  const noisePower = meanPower(n);
  const out = new Float32Array(x);
  if (signalPower === 0 || noisePower === 0) return out;
  const scale = Math.sqrt(signalPower / (noisePower * 10 ** (snrDb / 10)));
  for (let i = 0; i < out.length; i++) out[i] += scale * n[i];
  return out;
}

export interface NoiseRecording {
  path: string;
  /** Mono, 16 kHz (or the requested rate). */
  samples: Float32Array;
}

const NOISE_EXTENSIONS = /\.(wav|flac|mp3)$/i;

/**
 * Decode every .wav/.flac/.mp3 directly in `dir` (not recursive), mixed to mono and resampled
 * to `sampleRate`. Sorted by name so the list, and hence rng.pick(), is the same on every
 * machine. Silent files are skipped since they cannot be scaled to an SNR.
 */
export async function loadNoiseFolder(dir: string, sampleRate = 16000): Promise<NoiseRecording[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries
    .filter((e) => e.isFile() && NOISE_EXTENSIONS.test(e.name))
    .map((e) => e.name)
    .sort();
  const out: NoiseRecording[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const audio = await readAudioFile(path, { targetRate: sampleRate });
    if (meanPower(audio.samples) > 0) out.push({ path, samples: audio.samples });
  }
  return out;
}

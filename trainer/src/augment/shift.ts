import type { Rng } from "./random.js";

/**
 * Move the signal by `shift` samples (positive: later), keeping the length and filling the
 * vacated part with zeros. Zero fill rather than circular: wrapping would splice the end of the
 * utterance onto its start, an abrupt out-of-order fragment (and a click) that never occurs in
 * real recordings, whereas a later/earlier onset in the recording window does. Noise is added
 * after the shift, so the filled gap is not digitally silent in training.
 */
export function timeShift(x: Float32Array, shift: number): Float32Array {
  if (!Number.isInteger(shift)) throw new RangeError(`shift must be an integer, got ${shift}`);
  const out = new Float32Array(x.length);
  if (Math.abs(shift) >= x.length) return out;
  if (shift >= 0) out.set(x.subarray(0, x.length - shift), shift);
  else out.set(x.subarray(-shift));
  return out;
}

/** Shift by a uniformly random whole number of samples in [-maxMs, +maxMs]. */
export function randomTimeShift(
  x: Float32Array,
  maxMs: number,
  rng: Rng,
  sampleRate = 16000,
): Float32Array {
  const max = Math.round((maxMs * sampleRate) / 1000);
  return timeShift(x, rng.intBetween(-max, max));
}

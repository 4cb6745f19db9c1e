/**
 * Scale by `db` decibels. If the result would peak above `peakLimit` (default 1, full scale),
 * the whole clip is scaled down so its peak equals the limit instead: a float pipeline never
 * clips by itself, and hard clipping would add distortion harmonics, which is a different (and
 * unrequested) augmentation. So the achieved gain can be less than asked for loud clips.
 */
export function applyGain(x: Float32Array, db: number, peakLimit = 1): Float32Array {
  if (!Number.isFinite(db)) throw new RangeError(`gain must be finite, got ${db} dB`);
  let g = 10 ** (db / 20);
  let peak = 0;
  for (let i = 0; i < x.length; i++) peak = Math.max(peak, Math.abs(x[i]));
  if (peak * g > peakLimit) g = peakLimit / peak;
  const out = new Float32Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] * g;
  return out;
}

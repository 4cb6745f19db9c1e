import { interpolate } from "./resample.js";

/**
 * Speed perturbation (Ko et al. 2015, Kaldi/sox `speed`): play the clip `factor` times faster,
 * so the duration scales by 1/factor and every frequency (pitch and formants) by factor.
 * A band-limited resampling (see resample.ts): output length round(length / factor); when
 * speeding up, content above the new Nyquist is filtered out rather than aliased.
 */
export function speedPerturb(x: Float32Array, factor: number): Float32Array {
  if (!(factor >= 0.25 && factor <= 4)) {
    throw new RangeError(`speed factor must be within [0.25, 4], got ${factor}`);
  }
  if (factor === 1) return new Float32Array(x);
  return interpolate(x, factor, Math.round(x.length / factor));
}

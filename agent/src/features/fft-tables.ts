/**
 * Tables for the kernel's real FFT: an N-point real frame is packed as x[2n] + i x[2n+1] into an
 * N/2-point complex sequence, transformed by radix-4 decimation-in-time stages (one radix-2 stage
 * last when N/2 is not a power of 4), then unpacked into N/2 + 1 bins.
 */
export interface FftTables {
  half: number;
  radices: Int32Array;
  /** perm[d] = index in the packed sequence that goes to position d before the first stage. */
  perm: Int32Array;
  /** Per stage, for m = 1..r-1: a plane of cos(a) then a plane of sin(a), a = -2 pi m j / (r L). */
  twiddles: Float64Array;
  unpackCos: Float64Array;
  unpackSin: Float64Array;
}

export function fftTables(nFft: number): FftTables {
  const half = nFft / 2;
  const radices: number[] = [];
  let rest = half;
  while (rest >= 4) {
    radices.push(4);
    rest /= 4;
  }
  if (rest === 2) radices.push(2);
  const tw: number[] = [];
  let span = 1;
  for (const r of radices) {
    for (let m = 1; m < r; m++) {
      for (let j = 0; j < span; j++) tw.push(Math.cos((-2 * Math.PI * m * j) / (r * span)));
      for (let j = 0; j < span; j++) tw.push(Math.sin((-2 * Math.PI * m * j) / (r * span)));
    }
    span *= r;
  }
  const unpackCos = new Float64Array(half + 1);
  const unpackSin = new Float64Array(half + 1);
  for (let k = 0; k <= half; k++) {
    unpackCos[k] = Math.cos((-2 * Math.PI * k) / nFft);
    unpackSin[k] = Math.sin((-2 * Math.PI * k) / nFft);
  }
  const identity = Array.from({ length: half }, (_, i) => i);
  return {
    half,
    radices: Int32Array.from(radices),
    perm: Int32Array.from(ditOrder(identity, radices)),
    twiddles: Float64Array.from(tw),
    unpackCos,
    unpackSin,
  };
}

/**
 * Input order for a decimation-in-time FFT whose stages run with `radices` (first stage first):
 * the last stage combines r sub-transforms of the samples n = g (mod r), each ordered recursively.
 */
function ditOrder(indices: number[], radices: number[]): number[] {
  if (radices.length === 0) return indices;
  const r = radices[radices.length - 1];
  const inner = radices.slice(0, -1);
  const out: number[] = [];
  for (let g = 0; g < r; g++) {
    out.push(
      ...ditOrder(
        indices.filter((_, i) => i % r === g),
        inner,
      ),
    );
  }
  return out;
}

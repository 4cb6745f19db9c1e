/**
 * First `nOut` rows of the orthonormal DCT-II matrix of size n (scipy.fft.dct(norm='ortho')),
 * row-major, so that mfcc = D @ mel_db.
 */
export function dctOrthoMatrix(nOut: number, n: number): Float64Array {
  const d = new Float64Array(nOut * n);
  for (let k = 0; k < nOut; k++) {
    const scale = k === 0 ? Math.sqrt(1 / n) : Math.sqrt(2 / n);
    for (let i = 0; i < n; i++) {
      d[k * n + i] = scale * Math.cos((Math.PI * k * (2 * i + 1)) / (2 * n));
    }
  }
  return d;
}

/**
 * In-place radix-2 complex FFT in float64 with precomputed twiddles and bit-reversal table.
 * Written here (rather than importing fft.js) because the trainer needs it at runtime and
 * fft.js is only a root devDependency.
 */
export class Fft {
  readonly size: number;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly rev: Uint32Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 2 || (size & (size - 1)) !== 0) {
      throw new RangeError(`FFT size must be a power of two >= 2, got ${size}`);
    }
    this.size = size;
    const half = size >> 1;
    this.cos = new Float64Array(half);
    this.sin = new Float64Array(half);
    for (let k = 0; k < half; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / size);
      this.sin[k] = Math.sin((2 * Math.PI * k) / size);
    }
    const bits = Math.log2(size);
    this.rev = new Uint32Array(size);
    for (let i = 0; i < size; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >>> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
  }

  /** Forward transform X[k] = sum x[n] e^{-2 pi i k n / N}, in place. */
  forward(re: Float64Array, im: Float64Array): void {
    this.transform(re, im, -1);
  }

  /** Inverse transform including the 1/N scale, in place. */
  inverse(re: Float64Array, im: Float64Array): void {
    this.inverseUnscaled(re, im);
    const s = 1 / this.size;
    for (let i = 0; i < this.size; i++) {
      re[i] *= s;
      im[i] *= s;
    }
  }

  /** Inverse transform without the 1/N scale, for callers that fold it into a later pass. */
  inverseUnscaled(re: Float64Array, im: Float64Array): void {
    this.transform(re, im, 1);
  }

  private transform(re: Float64Array, im: Float64Array, sign: number): void {
    const n = this.size;
    if (re.length !== n || im.length !== n) {
      throw new RangeError(`FFT of size ${n} given arrays of ${re.length} and ${im.length}`);
    }
    const rev = this.rev;
    for (let i = 0; i < n; i++) {
      const j = rev[i];
      if (j > i) {
        let t = re[i];
        re[i] = re[j];
        re[j] = t;
        t = im[i];
        im[i] = im[j];
        im[j] = t;
      }
    }
    const cos = this.cos;
    const sin = this.sin;
    for (let len = 2; len <= n; len <<= 1) {
      const halfLen = len >> 1;
      const step = n / len;
      for (let start = 0; start < n; start += len) {
        for (let k = 0; k < halfLen; k++) {
          const wr = cos[k * step];
          const wi = sign * sin[k * step];
          const a = start + k;
          const b = a + halfLen;
          const xr = re[b] * wr - im[b] * wi;
          const xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr;
          im[b] = im[a] - xi;
          re[a] += xr;
          im[a] += xi;
        }
      }
    }
  }
}

/**
 * FFT of a real sequence of even length N through one complex FFT of N/2 (the usual even/odd
 * packing), about twice as fast as a complex FFT with a zero imaginary part. Spectra are the
 * N/2 + 1 non-negative-frequency bins.
 */
export class RealFft {
  readonly size: number;
  private readonly half: Fft;
  private readonly wr: Float64Array;
  private readonly wi: Float64Array;
  private readonly zr: Float64Array;
  private readonly zi: Float64Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 4 || (size & (size - 1)) !== 0) {
      throw new RangeError(`real FFT size must be a power of two >= 4, got ${size}`);
    }
    this.size = size;
    const m = size >> 1;
    this.half = new Fft(m);
    this.wr = new Float64Array(m + 1);
    this.wi = new Float64Array(m + 1);
    for (let k = 0; k <= m; k++) {
      this.wr[k] = Math.cos((2 * Math.PI * k) / size);
      this.wi[k] = -Math.sin((2 * Math.PI * k) / size);
    }
    this.zr = new Float64Array(m);
    this.zi = new Float64Array(m);
  }

  /** re/im (length N/2 + 1) = DFT of x (length N). */
  forward(x: Float64Array, re: Float64Array, im: Float64Array): void {
    const m = this.size >> 1;
    const { zr, zi, wr, wi } = this;
    for (let n = 0; n < m; n++) {
      zr[n] = x[2 * n];
      zi[n] = x[2 * n + 1];
    }
    this.half.forward(zr, zi);
    for (let k = 0; k <= m; k++) {
      const a = k === m ? 0 : k;
      const b = k === 0 ? 0 : m - k;
      // E = (Z[k] + conj Z[m-k]) / 2 is the DFT of the even samples, O = (Z[k] - conj Z[m-k]) / 2i
      // of the odd ones; X[k] = E + W^k O.
      const er = 0.5 * (zr[a] + zr[b]);
      const ei = 0.5 * (zi[a] - zi[b]);
      const or = 0.5 * (zi[a] + zi[b]);
      const oi = -0.5 * (zr[a] - zr[b]);
      re[k] = er + wr[k] * or - wi[k] * oi;
      im[k] = ei + wr[k] * oi + wi[k] * or;
    }
  }

  /** x (length N) = inverse DFT of the Hermitian spectrum re/im (N/2 + 1 bins), 1/N included. */
  inverse(re: Float64Array, im: Float64Array, x: Float64Array): void {
    const m = this.size >> 1;
    const { zr, zi, wr, wi } = this;
    for (let k = 0; k < m; k++) {
      const b = m - k;
      const er = 0.5 * (re[k] + re[b]);
      const ei = 0.5 * (im[k] - im[b]);
      const dr = 0.5 * (re[k] - re[b]);
      const di = 0.5 * (im[k] + im[b]);
      // O = D * W^-k (conjugate twiddle); Z = E + i O.
      const or = dr * wr[k] + di * wi[k];
      const oi = di * wr[k] - dr * wi[k];
      zr[k] = er - oi;
      zi[k] = ei + or;
    }
    this.half.inverseUnscaled(zr, zi);
    const scale = 1 / m;
    for (let n = 0; n < m; n++) {
      x[2 * n] = zr[n] * scale;
      x[2 * n + 1] = zi[n] * scale;
    }
  }
}

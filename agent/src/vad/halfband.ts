import { blackmanSinc } from "../features/lowpass.js";

/**
 * Halves the sample rate: a linear-phase half-band low-pass (windowed sinc, cut-off at a quarter
 * of the input rate, Blackman window) and every second sample. Half-band taps are zero at every
 * even distance from the centre but the centre itself, so each output costs (taps + 1) / 4 + 1
 * multiplies. Streaming: the history between calls is kept, so consecutive blocks give exactly
 * what one long block would. Pure DSP, no allocation per call.
 */
export class HalfbandDecimator {
  readonly taps: number;
  private readonly odd: Float64Array;
  private readonly centre: number;
  /** The last taps - 1 input samples, oldest first, then room for one block. */
  private buf: Float64Array;
  private readonly history: number;

  /** taps: odd, and (taps - 1) / 2 odd too (7, 11, 15, ..., 31, 35, ...): a true half-band. */
  constructor(taps = 31) {
    if (!Number.isInteger(taps) || taps < 7 || taps % 2 === 0 || ((taps - 1) / 2) % 2 === 0) {
      throw new RangeError(`half-band taps must be 4k + 3 (7, 11, 15, ...), got ${taps}`);
    }
    this.taps = taps;
    const m = (taps - 1) / 2;
    // Cut-off at a quarter of the input rate.
    const h = blackmanSinc(new Float64Array(taps), 0.25);
    this.centre = h[m];
    // The non-zero taps away from the centre: odd distances k = 1, 3, ..., m (symmetric).
    this.odd = new Float64Array((m + 1) / 2);
    for (let j = 0; j < this.odd.length; j++) this.odd[j] = h[m + 2 * j + 1];
    this.history = taps - 1;
    this.buf = new Float64Array(this.history);
  }

  /** Output length for `n` input samples: n / 2 (n must be even, so blocks stay aligned). */
  outputLength(n: number): number {
    if (n % 2 !== 0) throw new RangeError(`decimate blocks of an even length, got ${n}`);
    return n / 2;
  }

  /** Decimates `input` into `out` (length input.length / 2). */
  process(input: Float32Array, out: Float32Array): Float32Array {
    const n = this.outputLength(input.length);
    if (out.length < n) throw new RangeError(`output too short: ${out.length} < ${n}`);
    const H = this.history;
    if (this.buf.length < H + input.length) {
      const grown = new Float64Array(H + input.length);
      grown.set(this.buf.subarray(0, H));
      this.buf = grown;
    }
    const b = this.buf;
    for (let i = 0; i < input.length; i++) b[H + i] = input[i];
    const m = H / 2;
    const odd = this.odd;
    for (let o = 0; o < n; o++) {
      // Output o is centred on input sample 2o + 1 of this block, i.e. b[2o + 1 + m].
      const c = 2 * o + 1 + m;
      let acc = this.centre * b[c];
      for (let j = 0; j < odd.length; j++) acc += odd[j] * (b[c - 2 * j - 1] + b[c + 2 * j + 1]);
      out[o] = acc;
    }
    // Keep the last H samples for the next block.
    b.copyWithin(0, input.length, input.length + H);
    return out;
  }

  reset(): void {
    this.buf.fill(0);
  }
}

import { frameModule } from "./kernel.js";
import { blackmanSinc } from "./lowpass.js";
import type { FeatureParams } from "./params.js";

/**
 * Pitch (F0) and voicing per feature frame, for the "mfcc+pitch" representation. MFCCs from 64
 * mel bands keep little of the harmonic spacing, and pitch level and movement are among the
 * strongest cues of emotional arousal, so they are given to the model explicitly.
 *
 * Normalised cross-correlation (as in RAPT / Kaldi's pitch tracker, without their Viterbi
 * smoothing) on the signal low-passed to 1 kHz (fewer harmonics, broader correlation peaks,
 * fewer octave errors) and decimated to 4 kHz: a 40 ms window centred on each
 * feature frame (librosa's centring: frame t at sample t * hop), lags for 60-600 Hz. That is
 * about 1.3 million multiply-adds per second of audio, in WebAssembly about 0.3 ms here (more
 * than the MFCCs; BENCHMARKS.md, features), paid only for utterances. The parameters are fixed
 * (a model's representation names this algorithm, not a setting).
 */

/** Values per frame: [log2(F0 / 100 Hz), or 0 when unvoiced; voicing 0..1]. */
export const PITCH_FEATURES = 2;

export const PITCH_RATE = 4000;
export const PITCH_FMIN_HZ = 60;
export const PITCH_FMAX_HZ = 600;
/** Correlation window, samples at PITCH_RATE (40 ms). */
const WINDOW = 160;
/** A frame is voiced when its best normalised correlation reaches this. */
export const VOICED_THRESHOLD = 0.5;
/**
 * The shortest lag whose correlation is within this factor of the best is taken: a periodic
 * signal correlates as well at two periods as at one, and the octave below is the classic
 * error.
 */
const OCTAVE_FACTOR = 0.9;
/** Below this mean square (about -100 dBFS) a window is silence, not unvoiced speech. */
const SILENCE_POWER = 1e-10;

const firCache = new Map<number, Float32Array>();

/** The decimation low-pass for `factor`: 16 * factor - 1 taps, cut-off 1 kHz. */
function lowpass(factor: number): Float32Array {
  let h = firCache.get(factor);
  if (!h) {
    h = blackmanSinc(new Float32Array(16 * factor - 1), 0.25 / factor);
    firCache.set(factor, h);
  }
  return h;
}

function decimationFactor(sampleRate: number): number {
  const factor = sampleRate / PITCH_RATE;
  if (!Number.isInteger(factor) || factor < 1) {
    throw new RangeError(
      `pitch features need a sample rate that is a multiple of ${PITCH_RATE} Hz, got ${sampleRate}`,
    );
  }
  return factor;
}

/** The signal at PITCH_RATE: a zero-phase low-pass evaluated at every `factor`-th sample. */
export function decimateForPitch(samples: ArrayLike<number>, sampleRate: number): Float32Array {
  const factor = decimationFactor(sampleRate);
  if (factor === 1) return Float32Array.from(samples);
  return pitchKernel().decimate(samples, factor);
}

/**
 * decimateForPitch in plain TypeScript: the reference the WASM kernel equals bit for bit. The
 * filter runs in float32 (Math.fround after every product and sum: a float64 operation on two
 * float32 values rounded once to float32 is the float32 operation) over the signal zero-padded
 * by half the taps in front, the taps zero-padded to a multiple of 4; four partial sums
 * (tap k mod 4), added as (s0 + s1) + (s2 + s3), which is how the kernel's SIMD lanes add.
 */
export function decimateReference(samples: ArrayLike<number>, sampleRate: number): Float32Array {
  const factor = decimationFactor(sampleRate);
  const n = Math.ceil(samples.length / factor);
  if (factor === 1) return Float32Array.from(samples);
  const h = paddedTaps(lowpass(factor));
  const xp = zeroPadded(
    samples,
    (lowpass(factor).length - 1) / 2,
    paddedLength(samples.length, h.length, factor),
  );
  const f = Math.fround;
  const out = new Float32Array(n);
  const s = new Float32Array(4);
  for (let m = 0; m < n; m++) {
    s.fill(0);
    for (let k = 0; k < h.length; k++) s[k & 3] = f(s[k & 3] + f(h[k] * xp[m * factor + k]));
    out[m] = f(f(s[0] + s[1]) + f(s[2] + s[3]));
  }
  return out;
}

/** The low-pass taps followed by zeros up to a multiple of 4 (the kernel's SIMD width). */
function paddedTaps(h: Float32Array): Float32Array {
  const out = new Float32Array(Math.ceil(h.length / 4) * 4);
  out.set(h);
  return out;
}

/** Length of the zero-padded input every output's taps fit in. */
function paddedLength(samples: number, taps4: number, factor: number): number {
  return Math.ceil(samples / factor) * factor + taps4;
}

function zeroPadded(samples: ArrayLike<number>, front: number, length: number): Float32Array {
  const out = new Float32Array(length);
  out.set(samples, front);
  return out;
}

/** Number of feature frames librosa's centred framing gives (the MFCC frame count). */
export function centeredFrameCount(samples: number, hopLength: number): number {
  return 1 + Math.floor(samples / hopLength);
}

export interface PitchFrame {
  /** Hz, or 0 when the frame is unvoiced or silent. */
  f0: number;
  /** Best normalised correlation in the lag range, clamped to 0..1. */
  voicing: number;
}

/**
 * F0 and voicing of every feature frame of `samples` (at params.sampleRate), frame-major
 * [frames x PITCH_FEATURES]: log2(F0 / 100) when voiced (else 0), then the voicing.
 */
export function pitchFeatures(
  samples: ArrayLike<number>,
  params: Pick<FeatureParams, "sampleRate" | "hopLength">,
): Float32Array {
  const { f0, voicing } = kernelTrack(samples, params);
  const out = new Float32Array(f0.length * PITCH_FEATURES);
  for (let t = 0; t < f0.length; t++) {
    out[t * PITCH_FEATURES] = f0[t] > 0 ? Math.log2(f0[t] / 100) : 0;
    out[t * PITCH_FEATURES + 1] = voicing[t];
  }
  return out;
}

/** The per-frame track behind pitchFeatures (WASM kernels). */
export function pitchTrack(
  samples: ArrayLike<number>,
  params: Pick<FeatureParams, "sampleRate" | "hopLength">,
): PitchFrame[] {
  return frames(kernelTrack(samples, params));
}

function kernelTrack(
  samples: ArrayLike<number>,
  params: Pick<FeatureParams, "sampleRate" | "hopLength">,
): Track {
  const factor = decimationFactor(params.sampleRate);
  const count = centeredFrameCount(samples.length, params.hopLength);
  return pitchKernel().track(samples, factor, params.hopLength, count);
}

/** F0 (Hz, 0 when unvoiced) and voicing per frame. */
interface Track {
  f0: Float64Array;
  voicing: Float64Array;
}

function frames(t: Track): PitchFrame[] {
  return Array.from(t.f0, (f0, i) => ({ f0, voicing: t.voicing[i] }));
}

/** pitchTrack on the TypeScript references; the same track to the last bit (tested). */
export function pitchTrackReference(
  samples: ArrayLike<number>,
  params: Pick<FeatureParams, "sampleRate" | "hopLength">,
): PitchFrame[] {
  const x = decimateReference(samples, params.sampleRate);
  const span = new Float64Array(WINDOW + MAX_LAG + 1);
  const r = new Float64Array(MAX_LAG + 2);
  return frames(
    track(x, samples.length, params, span, r, (w, lo, hi) => nccfReference(span, w, lo, hi, r)),
  );
}

const MIN_LAG = Math.floor(PITCH_RATE / PITCH_FMAX_HZ);
const MAX_LAG = Math.ceil(PITCH_RATE / PITCH_FMIN_HZ);

/**
 * One value pair per feature frame from the decimated signal `x`: `correlate` fills `r` from
 * `span` (a frame's window and its lags, zero-padded past the ends).
 */
function track(
  x: Float32Array,
  samples: number,
  params: Pick<FeatureParams, "sampleRate" | "hopLength">,
  span: Float64Array,
  r: Float64Array,
  correlate: (w: number, lo: number, hi: number) => void,
): Track {
  const factor = params.sampleRate / PITCH_RATE;
  const count = centeredFrameCount(samples, params.hopLength);
  const spanLength = WINDOW + MAX_LAG + 1;
  const peakLag = new Float64Array(MAX_LAG);
  const peakValue = new Float64Array(MAX_LAG);
  const out: Track = { f0: new Float64Array(count), voicing: new Float64Array(count) };
  for (let t = 0; t < count; t++) {
    const start = Math.round((t * params.hopLength) / factor) - WINDOW / 2;
    if (start >= 0 && start + spanLength <= x.length) {
      span.set(x.subarray(start, start + spanLength));
    } else {
      for (let i = 0; i < spanLength; i++) {
        const j = start + i;
        span[i] = j >= 0 && j < x.length ? x[j] : 0;
      }
    }
    let e0 = 0;
    for (let n = 0; n < WINDOW; n++) e0 += span[n] * span[n];
    if (e0 / WINDOW < SILENCE_POWER) continue; // f0 and voicing stay 0
    correlate(WINDOW, MIN_LAG - 1, MAX_LAG + 1);
    // Peaks, each at its parabolic vertex: at 4 kHz a period rarely falls on a whole lag, and
    // the sampled correlation of a voice rich in harmonics can then be well below its true
    // peak (an octave error waiting to happen when the next period falls on a whole lag).
    let peaks = 0;
    let best = 0;
    for (let lag = MIN_LAG; lag <= MAX_LAG; lag++) {
      const b = r[lag];
      if (!(b > 0 && b >= r[lag - 1] && b >= r[lag + 1])) continue;
      const a = r[lag - 1];
      const c = r[lag + 1];
      const den = a - 2 * b + c;
      const delta = den < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den)) : 0;
      peakLag[peaks] = lag + delta;
      peakValue[peaks] = b - 0.25 * (a - c) * delta;
      best = Math.max(best, peakValue[peaks]);
      peaks++;
    }
    const voicing = Math.min(1, best);
    out.voicing[t] = voicing;
    if (voicing >= VOICED_THRESHOLD) {
      for (let k = 0; k < peaks; k++) {
        if (peakValue[k] >= OCTAVE_FACTOR * best) {
          out.f0[t] = PITCH_RATE / peakLag[k];
          break;
        }
      }
    }
  }
  return out;
}

/**
 * The normalised cross-correlation in plain TypeScript, the reference the WASM kernel
 * (agent/assembly/frames.ts, nccf) equals bit for bit (tested): r[lag] for lag in [lo, hi] of
 * span[0, w) against span[lag, lag + w). Energies are summed in order, the lagged one slid by a
 * sample per lag; the dot product in four partial sums (n mod 4) added left to right.
 */
export function nccfReference(
  span: Float64Array,
  w: number,
  lo: number,
  hi: number,
  r: Float64Array,
): void {
  let e0 = 0;
  for (let n = 0; n < w; n++) e0 += span[n] * span[n];
  let el = 0;
  for (let n = 0; n < w; n++) el += span[n + lo] * span[n + lo];
  for (let lag = lo; lag <= hi; lag++) {
    if (lag > lo) {
      const out0 = span[lag - 1];
      const in1 = span[lag - 1 + w];
      el += in1 * in1 - out0 * out0;
    }
    let a0 = 0;
    let a1 = 0;
    let a2 = 0;
    let a3 = 0;
    for (let n = 0; n < w; n += 4) {
      a0 += span[n] * span[n + lag];
      a1 += span[n + 1] * span[n + lag + 1];
      a2 += span[n + 2] * span[n + lag + 2];
      a3 += span[n + 3] * span[n + lag + 3];
    }
    r[lag] = (a0 + a1 + a2 + a3) / Math.sqrt(e0 * Math.max(el, 1e-20));
  }
}

interface PitchExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  firDecimate(
    pXp: number,
    pH: number,
    taps4: number,
    factor: number,
    pOut: number,
    n: number,
  ): void;
  pitchConstants(rate: number, silence: number, voiced: number, octave: number): void;
  pitchTrack(
    pX: number,
    xLen: number,
    count: number,
    hop: number,
    factor: number,
    w: number,
    minLag: number,
    maxLag: number,
    pSpan: number,
    pR: number,
    pPeaks: number,
    pF0: number,
    pVoicing: number,
    pWide: number,
  ): void;
}

/** Room for a frame's span and correlations, and the longest FIR. */
const SPAN_MAX = 512;
const TAPS_MAX = 1024;

/**
 * The pitch tracker in WebAssembly (agent/assembly/frames.ts: firDecimate, then pitchTrack's
 * frame loop around nccf), on one instance per thread; bit for bit what decimateReference and
 * track() with nccfReference compute (tested). Layout: span f64[SPAN_MAX], r f64[SPAN_MAX],
 * peaks f64[256], taps f32[TAPS_MAX], then the padded input, the decimated signal and the
 * per-frame results, which grow with the longest utterance seen.
 */
class PitchKernel {
  private readonly ex: PitchExports;
  private readonly pSpan: number;
  private readonly pR: number;
  private readonly pPeaks: number;
  private readonly pH: number;
  private readonly pIn: number;
  private capacity = 0;
  /** The low-pass whose taps are in the kernel's memory (written when it changes). */
  private taps: Float32Array | undefined;

  constructor() {
    this.ex = new WebAssembly.Instance(frameModule(), {}).exports as unknown as PitchExports;
    this.pSpan = Math.ceil(this.ex.heapBase() / 16) * 16;
    this.pR = this.pSpan + 8 * SPAN_MAX;
    this.pPeaks = this.pR + 8 * SPAN_MAX;
    this.pH = this.pPeaks + 8 * 256;
    this.pIn = this.pH + 4 * TAPS_MAX;
    this.ex.pitchConstants(PITCH_RATE, SILENCE_POWER, VOICED_THRESHOLD, OCTAVE_FACTOR);
    if (WINDOW + MAX_LAG + 1 > SPAN_MAX || MAX_LAG + 2 > SPAN_MAX || MAX_LAG > 128) {
      throw new RangeError("pitch span too long");
    }
  }

  /** Room for `bytes` from pIn. */
  private grow(bytes: number): void {
    const end = this.pIn + bytes;
    const have = this.ex.memory.buffer.byteLength;
    if (end > have) this.ex.memory.grow(Math.ceil((end - have) / 65536));
    this.capacity = Math.max(this.capacity, bytes);
  }

  /**
   * Decimates `samples` to PITCH_RATE into the kernel's memory; returns where the n samples are.
   * Factor 1 copies them.
   */
  private decimateInPlace(samples: ArrayLike<number>, factor: number, reserve: number): number {
    const n = Math.ceil(samples.length / factor);
    if (factor === 1) {
      if (4 * n + reserve > this.capacity) this.grow(4 * n + reserve);
      new Float32Array(this.ex.memory.buffer, this.pIn, n).set(samples);
      return this.pIn;
    }
    const h = lowpass(factor);
    const taps4 = Math.ceil(h.length / 4) * 4;
    if (taps4 > TAPS_MAX) throw new RangeError("pitch low-pass too long");
    const front = (h.length - 1) / 2;
    const len = paddedLength(samples.length, taps4, factor);
    if (4 * (len + n) + reserve > this.capacity) this.grow(4 * (len + n) + reserve);
    const buf = this.ex.memory.buffer;
    if (this.taps !== h) {
      const taps = new Float32Array(buf, this.pH, taps4);
      taps.fill(0);
      taps.set(h);
      this.taps = h;
    }
    const xp = new Float32Array(buf, this.pIn, len);
    xp.fill(0, 0, front);
    xp.set(samples, front);
    xp.fill(0, front + samples.length);
    const pOut = this.pIn + 4 * len;
    this.ex.firDecimate(this.pIn, this.pH, taps4, factor, pOut, n);
    return pOut;
  }

  decimate(samples: ArrayLike<number>, factor: number): Float32Array {
    const n = Math.ceil(samples.length / factor);
    const at = this.decimateInPlace(samples, factor, 0);
    return new Float32Array(this.ex.memory.buffer, at, n).slice();
  }

  track(samples: ArrayLike<number>, factor: number, hop: number, count: number): Track {
    const n = Math.ceil(samples.length / factor);
    // After the decimated signal, 8-byte aligned: f0, voicing, and the signal widened to f64
    // with its zero padding (see pitchTrack in frames.ts).
    const wide = WINDOW / 2 + n + WINDOW + MAX_LAG + 2;
    const reserve = 8 + 16 * count + 8 * wide;
    const pX = this.decimateInPlace(samples, factor, reserve);
    const pF0 = Math.ceil((pX + 4 * n) / 8) * 8;
    const pVoicing = pF0 + 8 * count;
    const pWide = pVoicing + 8 * count;
    this.ex.pitchTrack(
      pX,
      n,
      count,
      hop,
      factor,
      WINDOW,
      MIN_LAG,
      MAX_LAG,
      this.pSpan,
      this.pR,
      this.pPeaks,
      pF0,
      pVoicing,
      pWide,
    );
    const buf = this.ex.memory.buffer;
    return {
      f0: new Float64Array(buf, pF0, count).slice(),
      voicing: new Float64Array(buf, pVoicing, count).slice(),
    };
  }
}

let kernelInstance: PitchKernel | undefined;

function pitchKernel(): PitchKernel {
  kernelInstance ??= new PitchKernel();
  return kernelInstance;
}

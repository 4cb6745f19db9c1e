import { RealFft } from "./fft.js";
import { interpolate } from "./resample.js";

export interface PhaseVocoderOptions {
  /** STFT size, a power of two. Default 1024 (64 ms at 16 kHz: resolves 100 Hz harmonics). */
  frameSize?: number;
  /** Synthesis hop in samples. Default frameSize / 4 (75% overlap, Hann). */
  hop?: number;
}

const ffts = new Map<number, RealFft>();
const windows = new Map<number, Float64Array>();

function fftOf(n: number): RealFft {
  let f = ffts.get(n);
  if (!f) {
    f = new RealFft(n);
    ffts.set(n, f);
  }
  return f;
}

/** Periodic Hann, used for analysis and synthesis (overlap-add normalised by sum of w^2). */
function hannOf(n: number): Float64Array {
  let w = windows.get(n);
  if (!w) {
    w = new Float64Array(n);
    for (let i = 0; i < n; i++) w[i] = 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n);
    windows.set(n, w);
  }
  return w;
}

const TWO_PI = 2 * Math.PI;
const wrap = (a: number) => a - TWO_PI * Math.round(a / TWO_PI);

/**
 * Phase-vocoder time stretch with identity phase locking (Laroche & Dolson 1999): output is
 * round(x.length * ratio) samples long with the same pitch. Synthesis frames sit every `hop`
 * samples; frame m analyses the input centred at round(m * hop / ratio). Only spectral peaks
 * get their phase advanced from their measured instantaneous frequency; the other bins keep
 * their analysed phase offset to the peak whose region they fall in. That keeps each partial's
 * lobe coherent (much less "phasiness" on speech than a plain vocoder) and keeps frequency
 * estimates unambiguous even when the analysis hop exceeds frameSize / 4.
 */
export function timeStretch(
  x: Float32Array,
  ratio: number,
  options: PhaseVocoderOptions = {},
): Float32Array {
  const n = options.frameSize ?? 1024;
  const hop = options.hop ?? n / 4;
  if (!(ratio >= 0.25 && ratio <= 4))
    throw new RangeError(`stretch ratio ${ratio} not in [0.25, 4]`);
  if (!Number.isInteger(hop) || hop < 1 || hop > n / 2) {
    throw new RangeError(`hop must be an integer in [1, frameSize / 2], got ${hop}`);
  }
  const fft = fftOf(n);
  const win = hannOf(n);
  const half = n >> 1;
  const outLen = Math.round(x.length * ratio);
  const out = new Float64Array(outLen);
  const wsum = new Float64Array(outLen);
  if (outLen === 0) return new Float32Array(0);

  const buf = new Float64Array(n);
  const re = new Float64Array(half + 1);
  const im = new Float64Array(half + 1);
  const prevRe = new Float64Array(half + 1);
  const prevIm = new Float64Array(half + 1);
  const synRe = new Float64Array(half + 1);
  const synIm = new Float64Array(half + 1);
  const mag2 = new Float64Array(half + 1);
  const peaks = new Int32Array(half + 1);
  // Rotation (as a unit phasor) applied to each peak's region this frame.
  const rotRe = new Float64Array(half + 1);
  const rotIm = new Float64Array(half + 1);

  const frames = Math.ceil((outLen - 1) / hop) + 1;
  let prevCentre = 0;
  for (let m = 0; m < frames; m++) {
    const centre = Math.round((m * hop) / ratio);
    // Analysis: windowed input frame centred on `centre`, zeros beyond the ends.
    const start = centre - half;
    for (let i = 0; i < n; i++) {
      const j = start + i;
      buf[i] = j >= 0 && j < x.length ? x[j] * win[i] : 0;
    }
    fft.forward(buf, re, im);

    if (m === 0) {
      // First frame: synthesis phase = analysis phase.
      rotRe.fill(1);
      rotIm.fill(0);
    } else {
      const dt = centre - prevCentre;
      for (let k = 0; k <= half; k++) mag2[k] = re[k] * re[k] + im[k] * im[k];
      // Peaks: local maxima over +-2 bins.
      let np = 0;
      for (let k = 1; k < half; k++) {
        const v = mag2[k];
        if (v > 0 && v > mag2[k - 1] && v >= mag2[k + 1]) {
          if ((k < 2 || v > mag2[k - 2]) && (k + 2 > half || v >= mag2[k + 2])) peaks[np++] = k;
        }
      }
      const propagate = (k: number) => {
        // Instantaneous frequency from the analysis phase advance over dt samples, then the
        // synthesis phase advanced by that frequency over `hop` samples.
        const omega = (TWO_PI * k) / n;
        const pa = Math.atan2(im[k], re[k]);
        const pPrev = Math.atan2(prevIm[k], prevRe[k]);
        const inst = omega + (dt > 0 ? wrap(pa - pPrev - omega * dt) / dt : 0);
        const ps = Math.atan2(synIm[k], synRe[k]) + inst * hop;
        const rot = ps - pa;
        rotRe[k] = Math.cos(rot);
        rotIm[k] = Math.sin(rot);
      };
      if (np === 0) {
        // No partials (e.g. a silent or monotone spectrum): plain per-bin vocoder.
        for (let k = 0; k <= half; k++) {
          propagate(k);
          peaks[k] = k;
        }
      } else {
        for (let i = 0; i < np; i++) propagate(peaks[i]);
        // Regions: each bin follows the peak on its side of the magnitude minimum between peaks.
        let k = 0;
        for (let i = 0; i < np; i++) {
          const p = peaks[i];
          let end = half;
          if (i + 1 < np) {
            const q = peaks[i + 1];
            end = p;
            for (let j = p + 1; j < q; j++) if (mag2[j] < mag2[end]) end = j;
          }
          for (; k <= end; k++) {
            rotRe[k] = rotRe[p];
            rotIm[k] = rotIm[p];
          }
        }
      }
    }

    // Synthesis spectrum = analysis spectrum rotated by its region's phasor.
    for (let k = 0; k <= half; k++) {
      prevRe[k] = re[k];
      prevIm[k] = im[k];
      const sr = re[k] * rotRe[k] - im[k] * rotIm[k];
      const si = re[k] * rotIm[k] + im[k] * rotRe[k];
      synRe[k] = sr;
      synIm[k] = si;
      re[k] = sr;
      im[k] = si;
    }
    fft.inverse(re, im, buf);
    const oStart = m * hop - half;
    for (let i = 0; i < n; i++) {
      const j = oStart + i;
      if (j < 0 || j >= outLen) continue;
      out[j] += buf[i] * win[i];
      wsum[j] += win[i] * win[i];
    }
    prevCentre = centre;
  }

  const y = new Float32Array(outLen);
  for (let j = 0; j < outLen; j++) y[j] = wsum[j] > 1e-6 ? out[j] / wsum[j] : 0;
  return y;
}

/**
 * Shift pitch by `semitones` keeping the duration: time-stretch by r = 2^(semitones/12) with the
 * phase vocoder, then read the result r times faster (band-limited interpolation), which
 * multiplies every frequency by r and brings the length back to exactly x.length. Formants move
 * with the pitch, as in librosa.effects.pitch_shift.
 */
export function pitchShift(
  x: Float32Array,
  semitones: number,
  options: PhaseVocoderOptions = {},
): Float32Array {
  if (!Number.isFinite(semitones) || Math.abs(semitones) > 12) {
    throw new RangeError(`semitones must be within [-12, 12], got ${semitones}`);
  }
  if (semitones === 0 || x.length === 0) return new Float32Array(x);
  const r = 2 ** (semitones / 12);
  const stretched = timeStretch(x, r, options);
  // The stretched clip is round(L * r) long; reading it at step L*r'/L keeps the ends aligned.
  return interpolate(stretched, stretched.length / x.length, x.length);
}

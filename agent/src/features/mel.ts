/** Mel scale and filterbank with librosa 0.11's semantics (filters.mel, mel_frequencies). */

const F_SP = 200 / 3;
const MIN_LOG_HZ = 1000;
const MIN_LOG_MEL = MIN_LOG_HZ / F_SP;
const LOG_STEP = Math.log(6.4) / 27;

export function hzToMel(hz: number, scale: "slaney" | "htk" = "slaney"): number {
  if (scale === "htk") return 2595 * Math.log10(1 + hz / 700);
  return hz >= MIN_LOG_HZ ? MIN_LOG_MEL + Math.log(hz / MIN_LOG_HZ) / LOG_STEP : hz / F_SP;
}

export function melToHz(mel: number, scale: "slaney" | "htk" = "slaney"): number {
  if (scale === "htk") return 700 * (10 ** (mel / 2595) - 1);
  return mel >= MIN_LOG_MEL ? MIN_LOG_HZ * Math.exp(LOG_STEP * (mel - MIN_LOG_MEL)) : F_SP * mel;
}

/** numpy.linspace, including its exact endpoint. */
function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = start + i * step;
  out[num - 1] = stop;
  return out;
}

export interface MelSpec {
  sampleRate: number;
  nFft: number;
  nMels: number;
  fmin: number;
  fmax: number;
  melScale: "slaney" | "htk";
  melNorm: "slaney" | null;
}

/** Dense filterbank, rows = mel bands (nMels x (nFft/2 + 1)), float64. */
export function melFilterbank(spec: MelSpec): Float64Array[] {
  const bins = spec.nFft / 2 + 1;
  const melF = linspace(
    hzToMel(spec.fmin, spec.melScale),
    hzToMel(spec.fmax, spec.melScale),
    spec.nMels + 2,
  ).map((m) => melToHz(m, spec.melScale));
  const fftFreqs = linspace(0, spec.sampleRate / 2, bins);
  const rows: Float64Array[] = [];
  for (let i = 0; i < spec.nMels; i++) {
    const row = new Float64Array(bins);
    const lowDiff = melF[i + 1] - melF[i];
    const highDiff = melF[i + 2] - melF[i + 1];
    const enorm = spec.melNorm === "slaney" ? 2 / (melF[i + 2] - melF[i]) : 1;
    for (let k = 0; k < bins; k++) {
      const lower = (fftFreqs[k] - melF[i]) / lowDiff;
      const upper = (melF[i + 2] - fftFreqs[k]) / highDiff;
      row[k] = Math.max(0, Math.min(lower, upper)) * enorm;
    }
    rows.push(row);
  }
  return rows;
}

/**
 * The filterbank as contiguous non-zero runs, one per band: what the frame kernel multiplies.
 * With `multiple` > 1 each run is padded with zero weights to a multiple of that length (the
 * kernel reads two bins per SIMD step; it keeps a zero bin past the last one for the overhang).
 */
export interface SparseFilterbank {
  start: Int32Array;
  length: Int32Array;
  offset: Int32Array;
  weights: Float64Array;
}

export function sparsify(rows: Float64Array[], multiple = 1): SparseFilterbank {
  const n = rows.length;
  const start = new Int32Array(n);
  const length = new Int32Array(n);
  const offset = new Int32Array(n);
  const chunks: number[] = [];
  rows.forEach((row, i) => {
    let a = row.findIndex((w) => w !== 0);
    let b = a;
    if (a < 0) {
      a = 0;
      b = -1;
    } else {
      for (let k = row.length - 1; k >= a; k--) {
        if (row[k] !== 0) {
          b = k;
          break;
        }
      }
    }
    const len = b - a + 1;
    const padded = Math.ceil(len / multiple) * multiple;
    start[i] = a;
    length[i] = padded;
    offset[i] = chunks.length;
    for (let k = a; k <= b; k++) chunks.push(row[k]);
    for (let k = len; k < padded; k++) chunks.push(0);
  });
  return { start, length, offset, weights: Float64Array.from(chunks) };
}

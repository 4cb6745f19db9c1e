import { intOption, numberOption } from "@ser-edge/agent/cli-kit";
import { type FeatureParams, resolveFeatureParams } from "@ser-edge/agent/features";

/** Command-line options for the feature parameters, named after librosa's. */
export const featureOptions = {
  "n-mfcc": { type: "string" },
  "n-fft": { type: "string" },
  hop: { type: "string" },
  win: { type: "string" },
  "n-mels": { type: "string" },
  fmin: { type: "string" },
  fmax: { type: "string" },
  "top-db": { type: "string" },
} as const;

export const featureOptionsHelp = `  --n-mfcc N     MFCC coefficients (default 40)
  --n-fft N      FFT size, a power of two (default 512)
  --hop N        hop length in samples (default 160)
  --win N        window length in samples, <= n-fft (default 400)
  --n-mels N     mel bands (default 64)
  --fmin HZ      lowest mel frequency (default 0)
  --fmax HZ      highest mel frequency (default 8000)
  --top-db DB    per-utterance dB floor below the maximum (default 80)`;

export function featureParamsFrom(values: Record<string, unknown>): FeatureParams {
  const d = resolveFeatureParams();
  return resolveFeatureParams({
    nMfcc: intOption(values["n-mfcc"], "n-mfcc", d.nMfcc),
    nFft: intOption(values["n-fft"], "n-fft", d.nFft),
    hopLength: intOption(values.hop, "hop", d.hopLength),
    winLength: intOption(values.win, "win", d.winLength),
    nMels: intOption(values["n-mels"], "n-mels", d.nMels),
    fmin: numberOption(values.fmin, "fmin", d.fmin),
    fmax: numberOption(values.fmax, "fmax", d.fmax),
    topDb: numberOption(values["top-db"], "top-db", d.topDb ?? 80),
  });
}

/** The parameters under librosa's names, as shared/golden writes them. */
export function librosaParams(p: FeatureParams) {
  return {
    n_fft: p.nFft,
    hop_length: p.hopLength,
    win_length: p.winLength,
    window: p.window,
    center: p.center,
    pad_mode: "constant",
    n_mels: p.nMels,
    fmin: p.fmin,
    fmax: p.fmax,
    htk: p.melScale === "htk",
    norm: p.melNorm,
    power: 2.0,
    ref: p.refPower,
    amin: p.amin,
    top_db: p.topDb,
    n_mfcc: p.nMfcc,
    dct_type: 2,
    dct_norm: "ortho",
    lifter: 0,
  };
}

/**
 * Feature parameters: the contract between the trainer and the device. A model's manifest carries
 * one of these; the agent builds its extractor from it, never from defaults.
 */
export interface FeatureParams {
  sampleRate: number;
  nFft: number;
  hopLength: number;
  winLength: number;
  window: "hann" | "hamming";
  /** librosa's centre padding with zeros (pad_mode='constant'); the only mode supported. */
  center: true;
  nMels: number;
  fmin: number;
  fmax: number;
  /** Slaney (librosa default, htk=False) or HTK mel scale. */
  melScale: "slaney" | "htk";
  /** Slaney area normalisation of the filters (librosa norm='slaney'), or none. */
  melNorm: "slaney" | null;
  /** power_to_db parameters. */
  amin: number;
  topDb: number | null;
  refPower: number;
  nMfcc: number;
  /** Savitzky-Golay window for deltas (librosa.feature.delta width). */
  deltaWidth: number;
}

/** The parameters of shared/golden (librosa 0.11) and of the shipped models. */
export const DEFAULT_FEATURE_PARAMS: Readonly<FeatureParams> = Object.freeze({
  sampleRate: 16000,
  nFft: 512,
  hopLength: 160,
  winLength: 400,
  window: "hann",
  center: true,
  nMels: 64,
  fmin: 0,
  fmax: 8000,
  melScale: "slaney",
  melNorm: "slaney",
  amin: 1e-10,
  topDb: 80,
  refPower: 1,
  nMfcc: 40,
  deltaWidth: 9,
});

export class FeatureParamsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FeatureParamsError";
  }
}

/** Fills defaults and rejects combinations that would silently compute something else. */
export function resolveFeatureParams(partial: Partial<FeatureParams> = {}): FeatureParams {
  const p: FeatureParams = { ...DEFAULT_FEATURE_PARAMS, ...partial };
  const fail = (what: string) => {
    throw new FeatureParamsError(`invalid feature parameters: ${what}`);
  };
  const posInt = (name: keyof FeatureParams) => {
    const v = p[name];
    if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
      fail(`${name} must be a positive integer, got ${String(v)}`);
    }
  };
  for (const k of ["sampleRate", "nFft", "hopLength", "winLength", "nMels", "nMfcc"] as const) {
    posInt(k);
  }
  if (p.nFft < 16 || (p.nFft & (p.nFft - 1)) !== 0) {
    fail(`nFft must be a power of two >= 16, got ${p.nFft}`);
  }
  if (p.winLength > p.nFft) fail(`winLength (${p.winLength}) must be <= nFft (${p.nFft})`);
  if (p.hopLength > p.winLength) {
    fail(`hopLength (${p.hopLength}) must be <= winLength (${p.winLength})`);
  }
  if (p.nMels % 2 !== 0) fail(`nMels must be even, got ${p.nMels}`);
  if (p.nMfcc > p.nMels) fail(`nMfcc (${p.nMfcc}) must be <= nMels (${p.nMels})`);
  if (!(p.fmin >= 0 && p.fmax > p.fmin && p.fmax <= p.sampleRate / 2)) {
    fail(`need 0 <= fmin < fmax <= sampleRate/2, got fmin=${p.fmin} fmax=${p.fmax}`);
  }
  if (p.window !== "hann" && p.window !== "hamming") fail(`unknown window "${p.window}"`);
  if (p.center !== true) fail("only centre padding (center=true) is supported");
  if (p.melScale !== "slaney" && p.melScale !== "htk") fail(`unknown melScale "${p.melScale}"`);
  if (p.melNorm !== "slaney" && p.melNorm !== null) fail(`unknown melNorm "${p.melNorm}"`);
  // The kernel's logarithm assumes normal doubles.
  if (!(p.amin >= 1e-300)) fail(`amin must be >= 1e-300, got ${p.amin}`);
  if (!(p.refPower > 0)) fail(`refPower must be > 0, got ${p.refPower}`);
  if (p.topDb !== null && !(p.topDb >= 0)) fail(`topDb must be >= 0 or null, got ${p.topDb}`);
  if (!Number.isInteger(p.deltaWidth) || p.deltaWidth < 3 || p.deltaWidth % 2 === 0) {
    fail(`deltaWidth must be an odd integer >= 3, got ${p.deltaWidth}`);
  }
  return p;
}

/** Stable key of a parameter set, for caches of tables and of computed features. */
export function featureParamsKey(p: FeatureParams): string {
  const keys = Object.keys(DEFAULT_FEATURE_PARAMS).sort() as (keyof FeatureParams)[];
  return JSON.stringify(keys.map((k) => [k, p[k]]));
}

/**
 * Training-time data augmentation (training split only; the caller decides). The SER reference
 * projects this replaces augmented with four operations: noise injection, time shift, pitch
 * shift and speed change (librosa time_stretch / speed). All four are here, done properly:
 * noise at a controlled SNR (white, pink or recorded), a zero-filled shift, a duration-keeping
 * phase-vocoder pitch shift and Kaldi-style speed perturbation; plus gain and SpecAugment.
 * Everything is a pure function of (input, seeded Rng), so a run is reproducible from its seed.
 */
import { applyGain } from "./gain.js";
import { addNoise, loadNoiseFolder } from "./noise.js";
import { pitchShift } from "./pitch.js";
import type { Rng } from "./random.js";
import { timeShift } from "./shift.js";
import { type SpecAugmentOptions, specAugment } from "./specaugment.js";
import { speedPerturb } from "./speed.js";

export { Fft, RealFft } from "./fft.js";
export { applyGain } from "./gain.js";
export {
  addNoise,
  loadNoiseFolder,
  loopCrop,
  meanPower,
  type NoiseColour,
  type NoiseRecording,
  pinkNoise,
  whiteNoise,
} from "./noise.js";
export { type PhaseVocoderOptions, pitchShift, timeStretch } from "./pitch.js";
export { createRng, Rng, seedFrom } from "./random.js";
export { interpolate } from "./resample.js";
export { randomTimeShift, timeShift } from "./shift.js";
export {
  applySpecAugmentMasks,
  drawSpecAugmentMasks,
  type MaskRun,
  type SpecAugmentMasks,
  type SpecAugmentOptions,
  specAugment,
} from "./specaugment.js";
export { speedPerturb } from "./speed.js";

/** The waveform rate every augmentation assumes (the agent's analysis rate). */
export const AUGMENT_SAMPLE_RATE = 16000;

/** [min, max], both inclusive for drawing purposes. */
export type Range = readonly [number, number];

export type NoiseKind = "white" | "pink" | "folder";

/** Each section is optional; a missing section or prob 0 disables that augmentation. */
export interface AugmentConfig {
  /** Additive noise at an SNR drawn uniformly from snrDb; the kind is picked uniformly. */
  noise?: { prob: number; snrDb: Range; kinds: readonly NoiseKind[]; folder?: string };
  /** Zero-filled time shift by up to +-maxMs. */
  shift?: { prob: number; maxMs: number };
  /** Speed perturbation by a factor picked uniformly from `factors` (tempo and pitch). */
  speed?: { prob: number; factors: readonly number[] };
  /** Duration-preserving pitch shift by semitones drawn uniformly from the range. */
  pitch?: { prob: number; semitones: Range };
  /** Gain in dB drawn uniformly from the range, peak-limited to full scale. */
  gain?: { prob: number; db: Range };
  /** SpecAugment masking of the feature matrix. */
  specAugment?: { prob: number } & SpecAugmentOptions;
}

/**
 * Defaults for acted emotional speech. Pitch shifts stay within +-2 semitones because pitch
 * level and range carry emotion (a +4 semitone "sad" starts to sound aroused); speed is the
 * Kaldi 0.9/1.0/1.1 recipe; SNR 10-30 dB is audible noise that leaves speech intelligible;
 * SpecAugment widths assume 10 ms frames (hop 160) and 40-64 feature columns.
 * Recorded noise: add "folder" to noise.kinds and set noise.folder.
 */
/**
 * A lighter setting: every augmentation less often and milder, SpecAugment on few columns (on
 * 40 MFCCs, two 8-column masks hide up to 40% of the cepstrum).
 */
export const LIGHT_AUGMENT: AugmentConfig = {
  speed: { prob: 0.5, factors: [0.9, 1.0, 1.1] },
  pitch: { prob: 0.2, semitones: [-1, 1] },
  shift: { prob: 0.5, maxMs: 100 },
  noise: { prob: 0.3, snrDb: [15, 30], kinds: ["white", "pink"] },
  gain: { prob: 0.5, db: [-6, 6] },
  specAugment: {
    prob: 0.3,
    timeMasks: 2,
    maxTimeWidth: 10,
    freqMasks: 1,
    maxFreqWidth: 4,
    fill: "mean",
  },
};

export const DEFAULT_AUGMENT: AugmentConfig = {
  speed: { prob: 1, factors: [0.9, 1.0, 1.1] },
  pitch: { prob: 0.3, semitones: [-2, 2] },
  shift: { prob: 0.5, maxMs: 100 },
  noise: { prob: 0.5, snrDb: [10, 30], kinds: ["white", "pink"] },
  gain: { prob: 0.5, db: [-6, 6] },
  specAugment: {
    prob: 0.5,
    timeMasks: 2,
    maxTimeWidth: 20,
    freqMasks: 2,
    maxFreqWidth: 8,
    fill: "mean",
  },
};

export type AugmentationKind = "speed" | "pitch" | "shift" | "noise" | "gain";

/** What augmentWaveTraced did, for logs and debugging. */
export interface AppliedAugmentation {
  kind: AugmentationKind;
  /** Factor, semitones, shift ms (already rounded to samples), SNR dB or gain dB. */
  value: number;
  /** Noise source: "white", "pink" or the recording's index in the folder list. */
  source?: string;
}

export class Augmenter {
  readonly config: AugmentConfig;
  private readonly noises: readonly Float32Array[];

  /** `noises`: decoded recordings for the "folder" noise kind (see Augmenter.create). */
  constructor(config: AugmentConfig, noises: readonly Float32Array[] = []) {
    validateConfig(config, noises.length);
    this.config = config;
    this.noises = noises;
  }

  /** Build an Augmenter, loading config.noise.folder when the "folder" kind is enabled. */
  static async create(config: AugmentConfig): Promise<Augmenter> {
    const noise = config.noise;
    if (noise && noise.prob > 0 && noise.kinds.includes("folder")) {
      if (!noise.folder) throw new RangeError('noise kind "folder" needs noise.folder');
      const recordings = await loadNoiseFolder(noise.folder, AUGMENT_SAMPLE_RATE);
      if (recordings.length === 0) {
        throw new RangeError(`no usable .wav/.flac/.mp3 noise recordings in ${noise.folder}`);
      }
      return new Augmenter(
        config,
        recordings.map((r) => r.samples),
      );
    }
    return new Augmenter(config);
  }

  /**
   * Waveform augmentations in a fixed order: speed, pitch (both act on the speaker), shift, then
   * noise (environmental, so not pitch-shifted, and it fills the shift's zero gap), then gain
   * last (the level of the whole mixture, peak-limited). Returns a new array (length changes
   * only with speed).
   */
  augmentWave(x: Float32Array, rng: Rng): Float32Array {
    return this.augmentWaveTraced(x, rng).samples;
  }

  augmentWaveTraced(
    x: Float32Array,
    rng: Rng,
  ): { samples: Float32Array; applied: AppliedAugmentation[] } {
    const c = this.config;
    const applied: AppliedAugmentation[] = [];
    let y = x;
    if (c.speed && rng.chance(c.speed.prob)) {
      const factor = rng.pick(c.speed.factors);
      if (factor !== 1) {
        y = speedPerturb(y, factor);
        applied.push({ kind: "speed", value: factor });
      }
    }
    if (c.pitch && rng.chance(c.pitch.prob)) {
      const semitones = rng.uniform(c.pitch.semitones[0], c.pitch.semitones[1]);
      y = pitchShift(y, semitones);
      applied.push({ kind: "pitch", value: semitones });
    }
    if (c.shift && rng.chance(c.shift.prob)) {
      const max = Math.round((c.shift.maxMs * AUGMENT_SAMPLE_RATE) / 1000);
      const shift = rng.intBetween(-max, max);
      y = timeShift(y, shift);
      applied.push({ kind: "shift", value: (shift * 1000) / AUGMENT_SAMPLE_RATE });
    }
    if (c.noise && rng.chance(c.noise.prob)) {
      const kind = rng.pick(c.noise.kinds);
      const snrDb = rng.uniform(c.noise.snrDb[0], c.noise.snrDb[1]);
      let source: string = kind;
      let noise: Float32Array | "white" | "pink";
      if (kind === "folder") {
        const index = rng.int(this.noises.length);
        noise = this.noises[index];
        source = String(index);
      } else {
        noise = kind;
      }
      y = addNoise(y, noise, snrDb, rng);
      applied.push({ kind: "noise", value: snrDb, source });
    }
    if (c.gain && rng.chance(c.gain.prob)) {
      const db = rng.uniform(c.gain.db[0], c.gain.db[1]);
      y = applyGain(y, db);
      applied.push({ kind: "gain", value: db });
    }
    return { samples: y === x ? new Float32Array(x) : y, applied };
  }

  /** SpecAugment on a frame-major (frames x width) matrix; a copy when not applied. */
  augmentFeatures(x: Float32Array, width: number, rng: Rng): Float32Array {
    const s = this.config.specAugment;
    if (s && rng.chance(s.prob)) return specAugment(x, width, s, rng);
    return new Float32Array(x);
  }
}

function validateConfig(c: AugmentConfig, noiseCount: number): void {
  const fail = (msg: string) => {
    throw new RangeError(`augment config: ${msg}`);
  };
  const prob = (name: string, p: number) => {
    if (!(p >= 0 && p <= 1)) fail(`${name}.prob must be within [0, 1], got ${p}`);
  };
  const range = (name: string, r: Range, lo: number, hi: number) => {
    if (!(r[0] >= lo && r[1] <= hi && r[0] <= r[1])) {
      fail(`${name} must be [min, max] with ${lo} <= min <= max <= ${hi}, got [${r.join(", ")}]`);
    }
  };
  if (c.noise) {
    prob("noise", c.noise.prob);
    range("noise.snrDb", c.noise.snrDb, -30, 100);
    if (c.noise.kinds.length === 0) fail("noise.kinds is empty");
    for (const k of c.noise.kinds) {
      if (k !== "white" && k !== "pink" && k !== "folder") fail(`unknown noise kind "${k}"`);
    }
    if (c.noise.prob > 0 && c.noise.kinds.includes("folder") && noiseCount === 0) {
      fail('noise kind "folder" needs recordings: use Augmenter.create or pass them');
    }
  }
  if (c.shift) {
    prob("shift", c.shift.prob);
    if (!(c.shift.maxMs >= 0)) fail(`shift.maxMs must be >= 0, got ${c.shift.maxMs}`);
  }
  if (c.speed) {
    prob("speed", c.speed.prob);
    if (c.speed.factors.length === 0) fail("speed.factors is empty");
    for (const f of c.speed.factors) {
      if (!(f >= 0.5 && f <= 2)) fail(`speed factor ${f} not within [0.5, 2]`);
    }
  }
  if (c.pitch) {
    prob("pitch", c.pitch.prob);
    range("pitch.semitones", c.pitch.semitones, -12, 12);
  }
  if (c.gain) {
    prob("gain", c.gain.prob);
    range("gain.db", c.gain.db, -60, 60);
  }
  if (c.specAugment) {
    const s = c.specAugment;
    prob("specAugment", s.prob);
    for (const key of ["timeMasks", "maxTimeWidth", "freqMasks", "maxFreqWidth"] as const) {
      if (!Number.isInteger(s[key]) || s[key] < 0)
        fail(`specAugment.${key} must be an integer >= 0`);
    }
    if (s.fill !== "mean" && s.fill !== "zero") fail(`specAugment.fill must be "mean" or "zero"`);
  }
}

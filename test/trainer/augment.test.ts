import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { encodeWav } from "@ser-edge/agent/audio";
import {
  type AugmentConfig,
  Augmenter,
  addNoise,
  applyGain,
  applySpecAugmentMasks,
  createRng,
  DEFAULT_AUGMENT,
  drawSpecAugmentMasks,
  Fft,
  loadNoiseFolder,
  meanPower,
  pinkNoise,
  pitchShift,
  RealFft,
  randomTimeShift,
  seedFrom,
  specAugment,
  speedPerturb,
  timeShift,
  timeStretch,
  whiteNoise,
} from "../../trainer/src/augment/index.js";

const SR = 16000;

function sine(freq: number, seconds: number, amp = 0.5): Float32Array {
  const x = new Float32Array(Math.round(seconds * SR));
  for (let i = 0; i < x.length; i++) x[i] = amp * Math.sin((2 * Math.PI * freq * i) / SR);
  return x;
}

/** Mean frequency from interpolated upward zero crossings over the middle 60%. */
function zeroCrossingFreq(y: Float32Array): number {
  const a = Math.floor(y.length * 0.2);
  const b = Math.floor(y.length * 0.8);
  let first = -1;
  let last = -1;
  let count = 0;
  for (let i = a + 1; i < b; i++) {
    if (y[i - 1] < 0 && y[i] >= 0) {
      const t = i - 1 + -y[i - 1] / (y[i] - y[i - 1]);
      if (first < 0) first = t;
      else count++;
      last = t;
    }
  }
  return (count * SR) / (last - first);
}

/** Strongest spectral peak over the middle of y: Hann window, 2^15 FFT, parabolic interpolation. */
function peakFreq(y: Float32Array): number {
  const n = 1 << 15;
  const re = new Float64Array(n);
  const im = new Float64Array(n);
  const len = Math.min(n, Math.floor(y.length * 0.6));
  const start = Math.floor((y.length - len) / 2);
  for (let i = 0; i < len; i++) {
    re[i] = y[start + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / len));
  }
  new Fft(n).forward(re, im);
  const mag = (k: number) => Math.log(Math.hypot(re[k], im[k]) + 1e-30);
  let best = 1;
  for (let k = 2; k < n / 2 - 1; k++) if (mag(k) > mag(best)) best = k;
  const [l, c, r] = [mag(best - 1), mag(best), mag(best + 1)];
  return ((best + (0.5 * (l - r)) / (l - 2 * c + r)) * SR) / n;
}

const rms = (x: Float32Array, a = 0, b = x.length) => {
  let s = 0;
  for (let i = a; i < b; i++) s += x[i] * x[i];
  return Math.sqrt(s / (b - a));
};

const snrOf = (clean: Float32Array, noisy: Float32Array) => {
  const diff = new Float32Array(clean.length);
  for (let i = 0; i < clean.length; i++) diff[i] = noisy[i] - clean[i];
  return 10 * Math.log10(meanPower(clean) / meanPower(diff));
};

/**
 * A crude speech stand-in: a glottal pulse train with a gliding f0 (110-240 Hz) through three
 * formant resonators, syllable-rate amplitude modulation, a fricative burst and silences.
 */
function speechLike(seconds: number, seed: number): Float32Array {
  const rng = createRng(seed);
  const n = Math.round(seconds * SR);
  const src = new Float32Array(n);
  let phase = 0;
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    const f0 = 175 + 65 * Math.sin(2 * Math.PI * 0.7 * t);
    phase += f0 / SR;
    if (phase >= 1) {
      phase -= 1;
      src[i] = 1;
    }
    if (t > 1.5 && t < 1.7) src[i] = 0.3 * rng.normal();
  }
  const out = new Float32Array(n);
  for (const [f, bw, g] of [
    [700, 110, 1],
    [1200, 120, 0.6],
    [2600, 160, 0.3],
  ]) {
    const r = Math.exp((-Math.PI * bw) / SR);
    const a1 = 2 * r * Math.cos((2 * Math.PI * f) / SR);
    const a2 = -r * r;
    let y1 = 0;
    let y2 = 0;
    for (let i = 0; i < n; i++) {
      const y = src[i] + a1 * y1 + a2 * y2;
      y2 = y1;
      y1 = y;
      out[i] += g * y * 0.02;
    }
  }
  for (let i = 0; i < n; i++) {
    const t = i / SR;
    const env = Math.max(0, Math.sin(2 * Math.PI * 2.5 * t)) ** 0.5;
    out[i] *= t < 0.2 || t > seconds - 0.3 ? 0 : env;
  }
  return out;
}

describe("Rng", () => {
  it("is deterministic per seed and its draws have the right ranges and moments", () => {
    const a = createRng(42);
    const b = createRng(42);
    const c = createRng(43);
    const seqA = Array.from({ length: 10 }, () => a.uniform());
    assert.deepEqual(
      seqA,
      Array.from({ length: 10 }, () => b.uniform()),
    );
    assert.notDeepEqual(
      seqA,
      Array.from({ length: 10 }, () => c.uniform()),
    );
    const r = createRng(7);
    let sum = 0;
    let sum2 = 0;
    const N = 100000;
    for (let i = 0; i < N; i++) {
      const z = r.normal();
      sum += z;
      sum2 += z * z;
    }
    assert.ok(Math.abs(sum / N) < 0.02, `normal mean ${sum / N}`);
    assert.ok(Math.abs(sum2 / N - 1) < 0.02, `normal variance ${sum2 / N}`);
    const counts = [0, 0, 0, 0, 0];
    for (let i = 0; i < 50000; i++) counts[r.int(5)]++;
    for (const k of counts) assert.ok(Math.abs(k - 10000) < 400, `int(5) counts ${counts}`);
    for (let i = 0; i < 1000; i++) {
      const u = r.uniform(-2, 3);
      assert.ok(u >= -2 && u < 3);
      const v = r.intBetween(-3, 3);
      assert.ok(Number.isInteger(v) && v >= -3 && v <= 3);
      assert.ok(["a", "b"].includes(r.pick(["a", "b"])));
    }
    assert.equal(seedFrom(1, "x.wav"), seedFrom(1, "x.wav"));
    assert.notEqual(seedFrom(1, "x.wav"), seedFrom(2, "x.wav"));
  });
});

describe("FFT", () => {
  const naive = (x: Float64Array) => {
    const n = x.length;
    const re = new Float64Array(n);
    const im = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      for (let t = 0; t < n; t++) {
        re[k] += x[t] * Math.cos((2 * Math.PI * k * t) / n);
        im[k] -= x[t] * Math.sin((2 * Math.PI * k * t) / n);
      }
    }
    return { re, im };
  };

  for (const n of [8, 64, 512]) {
    it(`complex and real FFT of size ${n} match a naive DFT and invert`, () => {
      const rng = createRng(n);
      const x = Float64Array.from({ length: n }, () => rng.normal());
      const want = naive(x);
      const re = Float64Array.from(x);
      const im = new Float64Array(n);
      new Fft(n).forward(re, im);
      const rre = new Float64Array(n / 2 + 1);
      const rim = new Float64Array(n / 2 + 1);
      const real = new RealFft(n);
      real.forward(x, rre, rim);
      for (let k = 0; k < n; k++) {
        assert.ok(Math.abs(re[k] - want.re[k]) < 1e-9 && Math.abs(im[k] - want.im[k]) < 1e-9);
        if (k <= n / 2) {
          assert.ok(Math.abs(rre[k] - want.re[k]) < 1e-9 && Math.abs(rim[k] - want.im[k]) < 1e-9);
        }
      }
      new Fft(n).inverse(re, im);
      const back = new Float64Array(n);
      real.inverse(rre, rim, back);
      for (let t = 0; t < n; t++) {
        assert.ok(Math.abs(re[t] - x[t]) < 1e-12 && Math.abs(im[t]) < 1e-12);
        assert.ok(Math.abs(back[t] - x[t]) < 1e-12);
      }
    });
  }
});

describe("noise", () => {
  const clean = speechLike(3, 1);

  for (const snr of [0, 10, 25]) {
    it(`white, pink and recorded noise land within 0.5 dB of ${snr} dB SNR`, () => {
      const recording = pinkNoise(3000, createRng(9)); // shorter than the clip: must loop
      for (const kind of ["white", "pink", recording] as const) {
        const y = addNoise(clean, kind, snr, createRng(snr + 1));
        assert.equal(y.length, clean.length);
        const got = snrOf(clean, y);
        assert.ok(Math.abs(got - snr) < 0.5, `${typeof kind === "string" ? kind : "rec"}: ${got}`);
      }
    });
  }

  it("loops a short recording from a random offset", () => {
    const rec = Float32Array.from({ length: 1000 }, (_, i) => i + 1);
    const silent = new Float32Array(3000).fill(1e-3);
    const y = addNoise(silent, rec, 0, createRng(3));
    // Noise values are (index + 1) * scale: consecutive differences are constant except where
    // the loop wraps, which must happen every 1000 samples.
    const d = (i: number) => y[i + 1] - y[i];
    let wraps = 0;
    for (let i = 0; i < y.length - 1; i++) if (d(i) < 0) wraps++;
    assert.ok(wraps === 2 || wraps === 3, `wraps ${wraps}`);
  });

  it("leaves a silent clip unchanged", () => {
    assert.deepEqual(
      addNoise(new Float32Array(100), "white", 10, createRng(1)),
      new Float32Array(100),
    );
  });

  it("pink noise falls 3 dB per octave, white noise is flat", () => {
    // Welch PSD (4096-point Hann frames, 50% overlap) averaged in octave bands 62.5 Hz - 4 kHz,
    // slope by least squares over log2(frequency).
    const slope = (x: Float32Array) => {
      const n = 4096;
      const fft = new RealFft(n);
      const psd = new Float64Array(n / 2 + 1);
      const buf = new Float64Array(n);
      const re = new Float64Array(n / 2 + 1);
      const im = new Float64Array(n / 2 + 1);
      for (let s = 0; s + n <= x.length; s += n / 2) {
        for (let i = 0; i < n; i++)
          buf[i] = x[s + i] * (0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
        fft.forward(buf, re, im);
        for (let k = 0; k <= n / 2; k++) psd[k] += re[k] * re[k] + im[k] * im[k];
      }
      const pts: [number, number][] = [];
      for (let lo = 62.5; lo < 6000; lo *= 2) {
        let p = 0;
        let c = 0;
        for (let k = Math.ceil((lo * n) / SR); k < (2 * lo * n) / SR; k++, c++) p += psd[k];
        pts.push([Math.log2(lo * Math.SQRT2), 10 * Math.log10(p / c)]);
      }
      const mx = pts.reduce((s, p) => s + p[0], 0) / pts.length;
      const my = pts.reduce((s, p) => s + p[1], 0) / pts.length;
      let num = 0;
      let den = 0;
      for (const [a, b] of pts) {
        num += (a - mx) * (b - my);
        den += (a - mx) ** 2;
      }
      return num / den;
    };
    const pink = slope(pinkNoise(1 << 19, createRng(5)));
    const white = slope(whiteNoise(1 << 19, createRng(5)));
    assert.ok(Math.abs(pink + 3.01) < 0.3, `pink slope ${pink.toFixed(2)} dB/octave`);
    assert.ok(Math.abs(white) < 0.3, `white slope ${white.toFixed(2)} dB/octave`);
  });

  it("loadNoiseFolder decodes the audio files of a folder at 16 kHz, sorted", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ser-noise-"));
    try {
      await writeFile(
        join(dir, "b.wav"),
        encodeWav(
          pinkNoise(8000, createRng(1)).map((v) => v * 0.1),
          8000,
        ),
      );
      await writeFile(join(dir, "a.WAV"), encodeWav(sine(440, 0.5, 0.2), SR));
      await writeFile(join(dir, "silent.wav"), encodeWav(new Float32Array(1600), SR));
      await writeFile(join(dir, "notes.txt"), "not audio");
      const got = await loadNoiseFolder(dir);
      assert.deepEqual(
        got.map((r) => r.path),
        [join(dir, "a.WAV"), join(dir, "b.wav")],
      );
      assert.equal(got[0].samples.length, 8000);
      assert.equal(got[1].samples.length, 16000); // 1 s at 8 kHz, resampled
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("shift and gain", () => {
  it("moves an impulse by the shift and fills with zeros", () => {
    const x = new Float32Array(16000);
    x[8000] = 1;
    x[0] = 0.5;
    for (const shift of [160, -320, 0, 1]) {
      const y = timeShift(x, shift);
      assert.equal(y.length, x.length);
      assert.equal(y[8000 + shift], 1);
      const nonzero = y.reduce((c, v) => c + (v !== 0 ? 1 : 0), 0);
      assert.equal(nonzero, shift < 0 ? 1 : 2); // x[0] drops off the front when shifting left
    }
    assert.deepEqual(timeShift(x, 20000), new Float32Array(16000));
    const rng = createRng(2);
    for (let i = 0; i < 50; i++) {
      const y = randomTimeShift(x, 100, rng);
      const at = y.indexOf(1);
      assert.ok(Math.abs(at - 8000) <= 1600, `shift ${at - 8000}`);
    }
  });

  it("applies gain in dB and scales down rather than clips", () => {
    const x = sine(300, 0.5, 0.1);
    const y = applyGain(x, 6);
    assert.ok(Math.abs(20 * Math.log10(rms(y) / rms(x)) - 6) < 1e-4);
    assert.ok(Math.abs(20 * Math.log10(rms(applyGain(x, -12)) / rms(x)) + 12) < 1e-4);
    const loud = applyGain(sine(300, 0.5, 0.8), 6);
    const peak = loud.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    assert.ok(Math.abs(peak - 1) < 1e-6, `peak ${peak}`);
    assert.ok(Math.abs(rms(loud) - 1 / Math.SQRT2) < 1e-3); // still a clean sine
  });
});

describe("speed", () => {
  for (const factor of [0.9, 1.1]) {
    it(`factor ${factor} scales duration by 1/${factor} and frequency by ${factor}`, () => {
      const x = sine(300, 2);
      const y = speedPerturb(x, factor);
      assert.equal(y.length, Math.round(x.length / factor));
      const f = zeroCrossingFreq(y);
      assert.ok(Math.abs(f / (300 * factor) - 1) < 0.001, `frequency ${f}`);
      const mid = [Math.floor(y.length * 0.2), Math.floor(y.length * 0.8)] as const;
      assert.ok(Math.abs(20 * Math.log10(rms(y, ...mid) / (0.5 / Math.SQRT2))) < 0.05);
    });
  }

  it("filters rather than aliases what a speed-up pushes past Nyquist", () => {
    const y = speedPerturb(sine(7700, 1), 1.1); // would land at 8470 Hz, alias to 7530 Hz
    assert.ok(20 * Math.log10(rms(y, 1600, y.length - 1600) / 0.354) < -50);
    const keep = speedPerturb(sine(6000, 1), 1.1); // lands at 6600 Hz: kept
    assert.ok(Math.abs(20 * Math.log10(rms(keep, 1600, keep.length - 1600) / 0.354)) < 0.1);
  });
});

describe("pitch shift (phase vocoder + resampling)", () => {
  for (const semitones of [2, -3, 1, -2, 0.5]) {
    it(`a 300 Hz sine shifted ${semitones} semitones is within 1% of 300 * 2^(n/12), same duration`, () => {
      const x = sine(300, 2);
      const y = pitchShift(x, semitones);
      const want = 300 * 2 ** (semitones / 12);
      assert.ok(Math.abs(y.length / x.length - 1) < 0.01);
      const zc = zeroCrossingFreq(y);
      const fftPeak = peakFreq(y);
      assert.ok(Math.abs(zc / want - 1) < 0.01, `zero crossings ${zc} vs ${want}`);
      assert.ok(Math.abs(fftPeak / want - 1) < 0.01, `FFT peak ${fftPeak} vs ${want}`);
      // Amplitude survives too (within 1 dB away from the edges).
      assert.ok(Math.abs(20 * Math.log10(rms(y, 3200, 28800) / rms(x, 3200, 28800))) < 1);
    });
  }

  it("time-stretch changes length, not frequency", () => {
    for (const ratio of [0.8, 1.25]) {
      const y = timeStretch(sine(440, 1), ratio);
      assert.equal(y.length, Math.round(16000 * ratio));
      assert.ok(Math.abs(zeroCrossingFreq(y) / 440 - 1) < 0.005);
    }
  });

  it("keeps speech-like signals finite, at a sane level, with the f0 harmonics moved", () => {
    const x = speechLike(3.5, 2);
    for (const semitones of [-2, 2, 1.37]) {
      const y = pitchShift(x, semitones);
      assert.equal(y.length, x.length);
      assert.ok(y.every(Number.isFinite));
      const ratio = rms(y) / rms(x);
      assert.ok(ratio > 0.7 && ratio < 1.4, `rms ratio ${ratio}`);
      const peak = y.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      const xPeak = x.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(peak < 3 * xPeak, `peak ${peak} vs ${xPeak}`);
      // Leading silence stays (near) silent: no pre-echo smeared far ahead of the onset.
      assert.ok(rms(y, 0, 1600) < 0.05 * rms(x));
    }
    // A harmonic complex keeps its harmonic structure: the strongest partial moves by 2^(n/12).
    const h = new Float32Array(2 * SR);
    for (let i = 0; i < h.length; i++) {
      for (let k = 1; k <= 8; k++) h[i] += (0.3 / k) * Math.sin((2 * Math.PI * 150 * k * i) / SR);
    }
    const f = peakFreq(pitchShift(h, 2));
    assert.ok(Math.abs(f / (150 * 2 ** (2 / 12)) - 1) < 0.01, `fundamental ${f}`);
  });
});

describe("SpecAugment", () => {
  const frames = 300;
  const width = 40;
  const x = Float32Array.from(
    { length: frames * width },
    (_, i) => 1 + (i % width) + 0.01 * (i % 7),
  );
  const opts = { timeMasks: 2, maxTimeWidth: 20, freqMasks: 3, maxFreqWidth: 6 } as const;

  for (const fill of ["zero", "mean"] as const) {
    it(`masks the requested counts and widths with ${fill} and leaves the rest untouched`, () => {
      for (let seed = 0; seed < 20; seed++) {
        const masks = drawSpecAugmentMasks(frames, width, { ...opts, fill }, createRng(seed));
        assert.equal(masks.time.length, 2);
        assert.equal(masks.freq.length, 3);
        for (const m of masks.time)
          assert.ok(m.width >= 1 && m.width <= 20 && m.start + m.width <= frames);
        for (const m of masks.freq)
          assert.ok(m.width >= 1 && m.width <= 6 && m.start + m.width <= width);
        const y = applySpecAugmentMasks(x, width, masks, fill);
        const before = Float32Array.from(x);
        for (let t = 0; t < frames; t++) {
          for (let f = 0; f < width; f++) {
            const masked =
              masks.time.some((m) => t >= m.start && t < m.start + m.width) ||
              masks.freq.some((m) => f >= m.start && f < m.start + m.width);
            const v = y[t * width + f];
            if (!masked) assert.equal(v, x[t * width + f]);
            else if (fill === "zero") assert.equal(v, 0);
            else {
              let mean = 0;
              for (let s = 0; s < frames; s++) mean += x[s * width + f];
              assert.ok(Math.abs(v - mean / frames) < 1e-4);
            }
          }
        }
        assert.deepEqual(x, before);
      }
      // specAugment() draws the same masks from the same seed.
      const direct = specAugment(x, width, { ...opts, fill }, createRng(5));
      const masks = drawSpecAugmentMasks(frames, width, { ...opts, fill }, createRng(5));
      assert.deepEqual(direct, applySpecAugmentMasks(x, width, masks, fill));
    });
  }
});

describe("Augmenter", () => {
  const always: AugmentConfig = {
    speed: { prob: 1, factors: [0.9, 1.1] },
    pitch: { prob: 1, semitones: [-2, 2] },
    shift: { prob: 1, maxMs: 100 },
    noise: { prob: 1, snrDb: [10, 30], kinds: ["white", "pink"] },
    gain: { prob: 1, db: [-6, 6] },
    specAugment: {
      prob: 1,
      timeMasks: 2,
      maxTimeWidth: 10,
      freqMasks: 2,
      maxFreqWidth: 5,
      fill: "zero",
    },
  };

  it("is deterministic: same seed same output, different seed different output", () => {
    const aug = new Augmenter(always);
    const x = speechLike(2, 4);
    const a = aug.augmentWaveTraced(x, createRng(11));
    const b = aug.augmentWaveTraced(x, createRng(11));
    const c = aug.augmentWaveTraced(x, createRng(12));
    assert.deepEqual(a, b);
    assert.notDeepEqual(a.samples, c.samples);
    assert.deepEqual(
      a.applied.map((o) => o.kind),
      ["speed", "pitch", "shift", "noise", "gain"],
    );
    assert.ok(a.samples.every(Number.isFinite));
    const feats = Float32Array.from({ length: 100 * 20 }, (_, i) => i);
    assert.deepEqual(
      aug.augmentFeatures(feats, 20, createRng(1)),
      aug.augmentFeatures(feats, 20, createRng(1)),
    );
    assert.notDeepEqual(
      aug.augmentFeatures(feats, 20, createRng(1)),
      aug.augmentFeatures(feats, 20, createRng(2)),
    );
    for (const kind of ["white", "pink"] as const) {
      assert.deepEqual(addNoise(x, kind, 10, createRng(1)), addNoise(x, kind, 10, createRng(1)));
      assert.notDeepEqual(addNoise(x, kind, 10, createRng(1)), addNoise(x, kind, 10, createRng(2)));
    }
  });

  it("runs DEFAULT_AUGMENT on speech-like clips and never mutates the input", () => {
    const aug = new Augmenter(DEFAULT_AUGMENT);
    const x = speechLike(3.5, 5);
    const copy = Float32Array.from(x);
    const rng = createRng(1);
    for (let i = 0; i < 20; i++) {
      const y = aug.augmentWave(x, rng);
      assert.ok(y !== x && y.every(Number.isFinite));
      assert.ok(Math.abs(y.length - x.length) <= Math.ceil(x.length * 0.12));
      assert.ok(y.reduce((m, v) => Math.max(m, Math.abs(v)), 0) <= 1 + 1e-6);
    }
    assert.deepEqual(x, copy);
    const off = new Augmenter({});
    const y = off.augmentWave(x, createRng(1));
    assert.deepEqual(y, x);
    assert.notEqual(y, x);
  });

  it("rejects bad configs with a message naming the field", () => {
    assert.throws(() => new Augmenter({ gain: { prob: 2, db: [0, 1] } }), /gain\.prob/);
    assert.throws(
      () => new Augmenter({ pitch: { prob: 1, semitones: [2, -2] } }),
      /pitch\.semitones/,
    );
    assert.throws(
      () => new Augmenter({ noise: { prob: 1, snrDb: [10, 20], kinds: ["folder"] } }),
      /folder/,
    );
  });

  it("Augmenter.create loads a noise folder for the folder kind", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ser-noise-"));
    try {
      await writeFile(join(dir, "hum.wav"), encodeWav(sine(100, 0.3, 0.3), SR));
      const aug = await Augmenter.create({
        noise: { prob: 1, snrDb: [5, 5], kinds: ["folder"], folder: dir },
      });
      const x = sine(1000, 1, 0.2);
      const { samples, applied } = aug.augmentWaveTraced(x, createRng(3));
      assert.equal(applied[0].source, "0");
      assert.ok(Math.abs(snrOf(x, samples) - 5) < 0.5);
      await assert.rejects(
        Augmenter.create({
          noise: { prob: 1, snrDb: [5, 5], kinds: ["folder"], folder: join(dir, "none") },
        }),
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

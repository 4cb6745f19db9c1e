import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "@ser-edge/agent/audio";
import {
  decimateForPitch,
  decimateReference,
  extractFeatures,
  FeatureExtractor,
  PITCH_FEATURES,
  pitchFeatures,
  pitchTrack,
  pitchTrackReference,
  REPRESENTATIONS,
  representationWidth,
  representFrames,
} from "@ser-edge/agent/features";

const SR = 16000;
const P = { sampleRate: SR, hopLength: 160 };
const AUDIO = fileURLToPath(new URL("../fixtures/audio/", import.meta.url));

const sine = (hz: number, seconds: number, amp = 0.3) =>
  Float32Array.from(
    { length: Math.round(seconds * SR) },
    (_, i) => amp * Math.sin((2 * Math.PI * hz * i) / SR),
  );

/** A band-limited pulse train: every harmonic of `hz` below 4 kHz at equal level. */
const harmonics = (hz: number, seconds: number) =>
  Float32Array.from({ length: Math.round(seconds * SR) }, (_, i) => {
    let v = 0;
    for (let k = 1; k * hz < 4000; k++) v += Math.sin((2 * Math.PI * k * hz * i) / SR);
    return (0.3 * v) / Math.floor(4000 / hz);
  });

function noise(n: number, seed = 3): Float32Array {
  let s = seed;
  return Float32Array.from({ length: n }, () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return (s / 2 ** 32 - 0.5) * 0.2;
  });
}

const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1];

describe("pitch features", () => {
  it("measures pure tones within 1% and calls them voiced", () => {
    for (const hz of [70, 110, 180, 300, 450]) {
      // The first and last frames' windows run past the signal's ends.
      const track = pitchTrack(sine(hz, 1), P).slice(3, -3);
      for (const f of track) {
        assert.ok(Math.abs(f.f0 / hz - 1) < 0.01, `${hz} Hz measured ${f.f0}`);
        assert.ok(f.voicing > 0.9, `${hz} Hz voicing ${f.voicing}`);
      }
    }
  });

  it("takes the fundamental of a harmonic-rich voice, not an octave below or above", () => {
    for (const hz of [85, 95, 120, 140, 175, 230, 310, 420]) {
      const track = pitchTrack(harmonics(hz, 1), P).slice(3, -3);
      for (const f of track) assert.ok(Math.abs(f.f0 / hz - 1) < 0.01, `${hz} Hz: ${f.f0}`);
    }
  });

  it("calls noise and silence unvoiced", () => {
    const n = pitchTrack(noise(SR), P);
    assert.ok(n.filter((f) => f.f0 > 0).length <= 0.02 * n.length, "noise is not voiced");
    const quiet = pitchFeatures(new Float32Array(SR), P);
    assert.ok(
      quiet.every((v) => v === 0),
      "silence gives zeros",
    );
  });

  it("gives one value pair per feature frame, for any length", () => {
    const ex = new FeatureExtractor();
    for (const n of [0, 1, 159, 160, 399, 4000, 16001]) {
      const x = sine(200, n / SR);
      const frames = extractFeatures(x, ex).frames;
      assert.equal(pitchFeatures(x, P).length, frames * PITCH_FEATURES, `${n} samples`);
    }
  });

  it("tells a male voice from a female one on RAVDESS clips", async () => {
    const f0 = async (file: string) => {
      const a = await readAudioFile(join(AUDIO, file));
      const voiced = pitchTrack(a.samples, P).filter((f) => f.f0 > 0);
      assert.ok(voiced.length > 50, `${file}: ${voiced.length} voiced frames`);
      return median(voiced.map((f) => f.f0));
    };
    const male = await f0("03-01-01-01-01-01-01.flac"); // actor 01
    const female = await f0("03-01-05-02-01-01-02.flac"); // actor 02
    assert.ok(male > 75 && male < 200, `actor 01 median F0 ${male}`);
    assert.ok(female > 150 && female < 400, `actor 02 median F0 ${female}`);
    assert.ok(female > 1.3 * male, `${female} vs ${male}`);
  });

  it("the WASM kernels equal their TypeScript references bit for bit", async () => {
    const a = await readAudioFile(join(AUDIO, "03-01-05-02-01-01-02.flac"));
    for (const x of [a.samples, noise(12345), harmonics(133, 0.7), new Float32Array(5)]) {
      for (const rate of [16000, 8000]) {
        assert.deepEqual(decimateForPitch(x, rate), decimateReference(x, rate), `${rate}`);
      }
    }
    // The correlation, through the whole track.
    for (const x of [a.samples, harmonics(95, 0.5), noise(8000)]) {
      assert.deepEqual(pitchTrack(x, P), pitchTrackReference(x, P));
    }
  });

  it("decimates 8 and 16 kHz audio, and refuses rates it cannot divide", () => {
    assert.equal(decimateForPitch(new Float32Array(1600), 16000).length, 400);
    assert.equal(decimateForPitch(new Float32Array(800), 8000).length, 400);
    // A tone in the pass band keeps its level; one above the cut-off is removed.
    const pass = decimateForPitch(sine(300, 1, 0.5), SR).subarray(100, -100);
    const stop = decimateForPitch(sine(3000, 1, 0.5), SR).subarray(100, -100);
    const rms = (v: Float32Array) => Math.sqrt(v.reduce((s, x) => s + x * x, 0) / v.length);
    assert.ok(Math.abs(rms(pass) / (0.5 / Math.SQRT2) - 1) < 0.01, `pass ${rms(pass)}`);
    assert.ok(rms(stop) < 0.001, `stop ${rms(stop)}`);
    assert.throws(() => decimateForPitch(new Float32Array(10), 44100), /multiple of 4000/);
  });
});

describe("representations", () => {
  it('"mfcc+pitch" is the MFCCs followed by the pitch features, frame by frame', () => {
    const ex = new FeatureExtractor();
    const x = harmonics(150, 1.3);
    const mfcc = extractFeatures(x, ex).mfcc;
    const pitch = pitchFeatures(x, ex.params);
    const r = representFrames(x, "mfcc+pitch", ex);
    const w = representationWidth("mfcc+pitch", ex.params);
    assert.equal(w, ex.params.nMfcc + 2);
    assert.equal(r.x.length, r.frames * w);
    for (let t = 0; t < r.frames; t++) {
      const row = r.x.subarray(t * w, (t + 1) * w);
      assert.deepEqual(row.subarray(0, 40), mfcc.subarray(t * 40, (t + 1) * 40));
      assert.deepEqual(row.subarray(40), pitch.subarray(2 * t, 2 * t + 2));
    }
    // log2(150 / 100) in the middle of the clip.
    const mid = Math.floor(r.frames / 2);
    assert.ok(Math.abs(r.x[mid * w + 40] - Math.log2(1.5)) < 0.01);
  });

  it("every representation's width matches what it computes", () => {
    const ex = new FeatureExtractor();
    const x = sine(220, 0.5);
    for (const kind of REPRESENTATIONS) {
      const r = representFrames(x, kind, ex);
      assert.equal(r.x.length, r.frames * representationWidth(kind, ex.params), kind);
    }
  });
});

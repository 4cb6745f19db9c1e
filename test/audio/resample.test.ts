import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import {
  initResampler,
  readAudioFile,
  resample,
  resampledLength,
  resampleSync,
} from "@ser-edge/agent/audio";
import {
  chunk,
  fmtChunk,
  riff,
  rms,
  samplesToBytes,
  sine,
  toneAmplitude,
} from "../fixtures/audio-gen/wav-builder.js";

const db = (ratio: number) => 20 * Math.log10(ratio);

describe("resample", () => {
  before(() => initResampler());

  for (const rate of [48000, 44100, 24414, 22050]) {
    it(`1 kHz tone at ${rate} Hz keeps its frequency, level (0.1 dB) and exact length`, () => {
      const x = sine(1000, rate, 1.0);
      const y = resampleSync(x, rate, 16000);
      assert.equal(y.length, Math.round((x.length * 16000) / rate));
      // Exclude 0.1 s at each edge, where the filter sees the implicit zeros.
      const amp = toneAmplitude(y, 1000, 16000, 1600, y.length - 1600);
      assert.ok(Math.abs(db(amp / 0.5)) < 0.1, `gain ${db(amp / 0.5).toFixed(3)} dB`);
      // No delay: output sample k must match the tone at time k / 16 kHz.
      let err = 0;
      for (let k = 1600; k < y.length - 1600; k++) {
        err = Math.max(err, Math.abs(y[k] - 0.5 * Math.sin((2 * Math.PI * 1000 * k) / 16000)));
      }
      assert.ok(err < 0.01, `max deviation from ideal tone ${err}`);
    });
  }

  it("attenuates a 9 kHz tone at 48 kHz (above the new Nyquist) by at least 60 dB", () => {
    const y = resampleSync(sine(9000, 48000, 1.0), 48000, 16000);
    const level = db((rms(y, 1600, y.length - 1600) * Math.SQRT2) / 0.5);
    assert.ok(level < -60, `alias level ${level.toFixed(1)} dB`);
  });

  it("keeps the tail: a click near the end survives", () => {
    const x = new Float32Array(4800);
    x[4790] = 1;
    const y = resampleSync(x, 48000, 16000);
    assert.equal(y.length, 1600);
    let peak = 0;
    for (let i = 1590; i < 1600; i++) peak = Math.max(peak, Math.abs(y[i]));
    assert.ok(peak > 0.2, `tail peak ${peak}`);
  });

  it("returns the input itself when rates match, and handles empty input", async () => {
    const x = new Float32Array([1, 2, 3]);
    assert.equal(await resample(x, 16000, 16000), x);
    assert.equal(resampleSync(new Float32Array(0), 48000, 16000).length, 0);
  });

  it("upsamples too", () => {
    const y = resampleSync(sine(1000, 8000, 0.5), 8000, 16000);
    assert.equal(y.length, 8000);
    const amp = toneAmplitude(y, 1000, 16000, 800, 7200);
    assert.ok(Math.abs(db(amp / 0.5)) < 0.1);
  });

  it("rejects non-integer and non-positive rates", () => {
    const x = new Float32Array(10);
    assert.throws(() => resampleSync(x, 44100.5, 16000), RangeError);
    assert.throws(() => resampleSync(x, 0, 16000), RangeError);
    assert.throws(() => resampleSync(x, 48000, -1), RangeError);
  });

  it("resampledLength rounds", () => {
    assert.equal(resampledLength(52853, 48000, 16000), 17618);
    assert.equal(resampledLength(1000, 24414, 16000), 655);
  });
});

describe("readAudioFile", () => {
  it("turns a 48 kHz stereo WAV into 16 kHz mono", async () => {
    const dir = await mkdtemp(join(tmpdir(), "ser-audio-"));
    try {
      const n = 48000;
      const left: number[] = [];
      const right: number[] = [];
      for (let i = 0; i < n; i++) {
        const v = Math.round(16384 * Math.sin((2 * Math.PI * 1000 * i) / 48000));
        left.push(v);
        right.push(v); // identical channels: the mean keeps amplitude 0.5
      }
      const fmt = fmtChunk({ formatTag: 1, channels: 2, sampleRate: 48000, bitsPerSample: 16 });
      const path = join(dir, "stereo48k.wav");
      await writeFile(path, riff([fmt, chunk("data", samplesToBytes([left, right], "s16"))]));
      const a = await readAudioFile(path);
      assert.equal(a.sampleRate, 16000);
      assert.equal(a.samples.length, 16000);
      assert.equal(a.durationSec, 1);
      assert.deepEqual(a.source, {
        path,
        format: "wav",
        sampleRate: 48000,
        channels: 2,
        bitDepth: 16,
      });
      const amp = toneAmplitude(a.samples, 1000, 16000, 1600, 14400);
      assert.ok(Math.abs(db(amp / 0.5)) < 0.1);
      const at22k = await readAudioFile(path, { targetRate: 22050 });
      assert.equal(at22k.sampleRate, 22050);
      assert.equal(at22k.samples.length, 22050);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

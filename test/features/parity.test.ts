// Parity with librosa 0.11 on every file of shared/golden (copied to test/fixtures/golden).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "@ser-edge/agent/audio";
import {
  DEFAULT_FEATURE_PARAMS,
  dctOrthoMatrix,
  deltas,
  extractFeatures,
  melFilterbank,
  periodicWindow,
} from "@ser-edge/agent/features";
import { FIXTURES, maxAbsError, maxRelError, readGolden } from "../helpers/golden.js";

const FEATURE_FILES = [
  "sine440",
  "mix300_3100_noise",
  "ravdess_a01_neutral",
  "ravdess_a02_angry",
  "ravdess_a10_happy",
];

async function goldenInput(name: string): Promise<Float32Array> {
  const g = readGolden(name);
  if (g.input.kind === "generated") return Float32Array.from(g.input.samples);
  // The golden decodes 16-bit FLAC as int16 / 32768 without resampling; so must we.
  const file = g.input.path.split("/").pop() as string;
  const audio = await readAudioFile(fileURLToPath(new URL(`audio/${file}`, FIXTURES)));
  assert.equal(audio.source.sampleRate, 16000);
  assert.equal(audio.samples.length, g.input.n_samples);
  return audio.samples;
}

describe("librosa parity: tables", () => {
  it("mel filterbank within 1e-6", () => {
    const g = readGolden<{ weights: number[][] }>("mel_filterbank_sr16000_nfft512_nmels64");
    const ours = melFilterbank(DEFAULT_FEATURE_PARAMS);
    assert.equal(ours.length, 64);
    let err = 0;
    ours.forEach((row, i) => {
      assert.equal(row.length, 257);
      row.forEach((w, k) => {
        err = Math.max(err, Math.abs(w - g.weights[i][k]));
      });
    });
    assert.ok(err <= 1e-6, `filterbank max abs error ${err}`);
  });

  it("periodic Hann window centred in n_fft", () => {
    const g = readGolden<{ window: number[] }>("hann_periodic_400_in_512");
    const ours = periodicWindow("hann", 400, 512);
    const err = Math.max(...g.window.map((v, i) => Math.abs(v - ours[i])));
    assert.ok(err <= 1e-12, `window max abs error ${err}`);
  });

  it("orthonormal DCT-II", () => {
    const g = readGolden<{ matrix: number[][] }>("dct2_ortho_64_to_40");
    const ours = dctOrthoMatrix(40, 64);
    let err = 0;
    g.matrix.forEach((row, k) => {
      row.forEach((v, i) => {
        err = Math.max(err, Math.abs(v - ours[k * 64 + i]));
      });
    });
    assert.ok(err <= 1e-12, `DCT max abs error ${err}`);
  });
});

describe("librosa parity: features", () => {
  for (const name of FEATURE_FILES) {
    it(`${name}: mel power, dB, MFCC and deltas within tolerance`, async () => {
      const g = readGolden(name);
      const f = extractFeatures(await goldenInput(name));
      assert.equal(f.frames, g.shape.frames);
      const relPower = maxRelError(f.melPower, g.mel_power, 1e-8);
      const absDb = maxAbsError(f.melDb, g.mel_db);
      const absMfcc = maxAbsError(f.mfcc, g.mfcc);
      const absDelta = maxAbsError(deltas(f.mfcc, 40, 1), g.delta);
      const absDelta2 = maxAbsError(deltas(f.mfcc, 40, 2), g.delta2);
      assert.ok(relPower <= 1e-4, `mel power relative error ${relPower}`);
      assert.ok(absDb <= 2e-3, `mel dB error ${absDb}`);
      assert.ok(absMfcc <= 2e-3, `MFCC error ${absMfcc}`);
      assert.ok(absDelta <= 2e-3, `delta error ${absDelta}`);
      assert.ok(absDelta2 <= 2e-3, `delta2 error ${absDelta2}`);
    });
  }

  it("the top_db clip is exercised (a golden with digital silence)", () => {
    // mix300_3100_noise starts with 0.25 s of zeros: those frames sit exactly at max - 80 dB.
    const g = readGolden("mix300_3100_noise");
    const max = Math.max(...g.mel_db.flat());
    const clipped = g.mel_db[0].filter((v) => Math.abs(v - (max - 80)) < 1e-6).length;
    assert.ok(clipped > 10, `expected clipped frames in the golden, found ${clipped}`);
  });
});

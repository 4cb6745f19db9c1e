import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  DEFAULT_FEATURE_PARAMS,
  extractFeatures,
  type FeatureParams,
  FeatureParamsError,
  featureParamsKey,
  resolveFeatureParams,
} from "@ser-edge/agent/features";
import { referenceFeatures } from "../helpers/reference-features.js";

function chirp(n: number, sr: number): Float32Array {
  const x = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const t = i / sr;
    x[i] = 0.3 * Math.sin(2 * Math.PI * (100 * t + 1500 * t * t)) + 0.01 * Math.sin(i * 1.3);
  }
  return x;
}

function maxRel(a: Float32Array, b: Float64Array, floor: number): number {
  let e = 0;
  for (let i = 0; i < a.length; i++)
    if (b[i] > floor) e = Math.max(e, Math.abs(a[i] - b[i]) / b[i]);
  return e;
}

function maxAbs(a: Float32Array, b: Float64Array): number {
  let e = 0;
  for (let i = 0; i < a.length; i++) e = Math.max(e, Math.abs(a[i] - b[i]));
  return e;
}

describe("other parameter sets against a plain reference implementation", () => {
  const cases: Partial<FeatureParams>[] = [
    {}, // the golden set, cross-checked a second way
    { nFft: 1024, winLength: 1024, hopLength: 256, nMels: 128, nMfcc: 20 }, // radix-2 last stage
    { nFft: 2048, winLength: 2048, hopLength: 512, sampleRate: 22050, fmax: 11025, nMels: 128 },
    {
      nFft: 256,
      winLength: 200,
      hopLength: 80,
      nMels: 40,
      nMfcc: 13,
      sampleRate: 8000,
      fmax: 4000,
    },
    { melScale: "htk", melNorm: null, fmin: 20, fmax: 7600, window: "hamming", topDb: null },
    { nFft: 16, winLength: 16, hopLength: 4, nMels: 4, nMfcc: 4, fmax: 8000 },
  ];
  for (const c of cases) {
    it(`matches for ${JSON.stringify(c)}`, () => {
      const p = resolveFeatureParams(c);
      const x = chirp(Math.round(p.sampleRate * 0.7), p.sampleRate);
      const ours = extractFeatures(x, p);
      const ref = referenceFeatures(x, p);
      assert.equal(ours.frames, ref.frames);
      assert.ok(maxRel(ours.melPower, ref.melPower, 1e-8) <= 1e-5, "mel power");
      assert.ok(maxAbs(ours.melDb, ref.melDb) <= 1e-3, "mel dB");
      assert.ok(maxAbs(ours.mfcc, ref.mfcc) <= 1e-3, "MFCC");
    });
  }
});

describe("feature parameters", () => {
  it("defaults are librosa's golden parameters", () => {
    const p = resolveFeatureParams();
    assert.deepEqual(
      [p.sampleRate, p.nFft, p.hopLength, p.winLength, p.nMels, p.nMfcc, p.fmax, p.topDb],
      [16000, 512, 160, 400, 64, 40, 8000, 80],
    );
  });

  const bad: [Partial<FeatureParams>, RegExp][] = [
    [{ nFft: 500 }, /nFft must be a power of two/],
    [{ winLength: 1024 }, /winLength \(1024\) must be <= nFft/],
    [{ hopLength: 0 }, /hopLength must be a positive integer/],
    [{ hopLength: 401 }, /hopLength \(401\) must be <= winLength/],
    [{ nMels: 63 }, /nMels must be even/],
    [{ nMfcc: 80 }, /nMfcc \(80\) must be <= nMels/],
    [{ fmax: 9000 }, /fmax <= sampleRate\/2/],
    [{ amin: 0 }, /amin must be >= 1e-300/],
    [{ deltaWidth: 4 }, /deltaWidth must be an odd integer/],
    [{ window: "blackman" as "hann" }, /unknown window/],
  ];
  for (const [p, msg] of bad) {
    it(`rejects ${JSON.stringify(p)}`, () => {
      assert.throws(
        () => resolveFeatureParams(p),
        (e: unknown) => {
          assert.ok(e instanceof FeatureParamsError);
          assert.match((e as Error).message, msg);
          return true;
        },
      );
    });
  }

  it("key changes with any parameter and not with key order", () => {
    const a = featureParamsKey(resolveFeatureParams());
    const b = featureParamsKey(resolveFeatureParams({ ...DEFAULT_FEATURE_PARAMS }));
    assert.equal(a, b);
    assert.notEqual(a, featureParamsKey(resolveFeatureParams({ nMfcc: 39 })));
  });
});

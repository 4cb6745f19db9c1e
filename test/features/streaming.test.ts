import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "@ser-edge/agent/audio";
import {
  extractFeatures,
  FeatureExtractor,
  type UtteranceFeatures,
} from "@ser-edge/agent/features";
import { FIXTURES } from "../helpers/golden.js";

function noise(n: number, seed = 1): Float32Array {
  let s = seed;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s * 1664525 + 1013904223) >>> 0;
    out[i] = (s / 2 ** 32 - 0.5) * 0.2;
  }
  return out;
}

function feedInChunks(ex: FeatureExtractor, x: Float32Array, size: number): UtteranceFeatures {
  for (let i = 0; i < x.length; i += size) ex.push(x.subarray(i, i + size));
  return ex.finish();
}

function assertSame(a: UtteranceFeatures, b: UtteranceFeatures, what: string) {
  assert.equal(a.frames, b.frames, `${what}: frame count`);
  assert.deepEqual(a.melPower, b.melPower, `${what}: mel power`);
  assert.deepEqual(a.melDb, b.melDb, `${what}: mel dB`);
  assert.deepEqual(a.mfcc, b.mfcc, `${what}: MFCC`);
}

describe("streaming extractor", async () => {
  const clip = (
    await readAudioFile(fileURLToPath(new URL("audio/03-01-05-02-01-01-02.flac", FIXTURES)))
  ).samples;
  // Silence in front, so the per-utterance dB clip changes early frames after they were computed.
  const withSilence = new Float32Array(8000 + clip.length);
  withSilence.set(clip, 8000);

  for (const size of [1, 160, 777, 16000]) {
    it(`chunks of ${size} samples give exactly the offline features`, () => {
      const offline = extractFeatures(withSilence);
      const ex = new FeatureExtractor();
      assertSame(feedInChunks(ex, withSilence, size), offline, `chunk ${size}`);
    });
  }

  it("the clip really is applied after streaming (silent frames sit at max - top_db)", () => {
    const f = extractFeatures(withSilence);
    let max = Number.NEGATIVE_INFINITY;
    for (const v of f.melDb) max = Math.max(max, v);
    assert.equal(f.melDb[0], Math.fround(max - 80));
    assert.ok(f.mfcc[0] < -500, `first MFCC of a clipped silent frame is ${f.mfcc[0]}`);
  });

  it("one extractor serves many utterances, each independent of the previous", () => {
    const ex = new FeatureExtractor();
    const a = noise(12345, 7);
    const first = feedInChunks(ex, clip, 1000);
    const second = feedInChunks(ex, a, 333);
    assertSame(second, extractFeatures(a), "second utterance");
    assertSame(first, extractFeatures(clip), "first utterance");
  });

  it("frame count is 1 + floor(samples / hop), including empty and tiny inputs", () => {
    const ex = new FeatureExtractor();
    for (const n of [0, 1, 159, 160, 161, 399, 400, 4321]) {
      const f = extractFeatures(noise(n, n + 3), ex);
      assert.equal(f.frames, 1 + Math.floor(n / 160), `n=${n}`);
      assert.equal(f.samples, n);
      assert.equal(f.mfcc.length, f.frames * 40);
      for (const v of f.mfcc) assert.ok(Number.isFinite(v));
    }
  });

  it("a long utterance grows the store mid-stream and keeps every frame", () => {
    // 40 s = 4001 frames, well past the initial store of 512 frames: it grows several times.
    const period = clip.subarray(0, clip.length - (clip.length % 160));
    const long = new Float32Array(16000 * 40);
    for (let i = 0; i < long.length; i += period.length) {
      long.set(period.subarray(0, Math.min(period.length, long.length - i)), i);
    }
    const streamed = feedInChunks(new FeatureExtractor(), long, 4321);
    assert.equal(streamed.frames, 4001);
    assertSame(streamed, extractFeatures(long), "long utterance");
    // The signal repeats every period/160 frames, and so must the features, late frames included.
    const k = period.length / 160;
    const row = (t: number) => streamed.mfcc.subarray(t * 40, (t + 1) * 40);
    for (const t of [10, 100, 3000]) assert.deepEqual(row(t + k), row(t), `frame ${t} vs ${t + k}`);
  });

  it("reports progress while streaming and leaves only the tail for finish()", () => {
    const ex = new FeatureExtractor();
    ex.push(noise(16000));
    // Frame t is complete once samples up to t*160 + 200 have arrived.
    assert.equal(ex.frameCount, Math.floor((16000 - 200) / 160) + 1);
    assert.equal(ex.sampleCount, 16000);
    assert.equal(ex.finish().frames, 101);
    assert.equal(ex.frameCount, 0);
  });

  it("rejects non-finite samples with a clear error and recovers", () => {
    const ex = new FeatureExtractor();
    const bad = noise(4000);
    bad[2000] = Number.NaN;
    ex.push(bad);
    assert.throws(() => ex.finish(), /not finite \(NaN or Inf samples\) near 0\.\d+ s/);
    const inf = noise(4000);
    inf[10] = Number.POSITIVE_INFINITY;
    assert.throws(() => extractFeatures(inf, ex), /not finite/);
    assertSame(extractFeatures(clip, ex), extractFeatures(clip), "after an error");
  });
});

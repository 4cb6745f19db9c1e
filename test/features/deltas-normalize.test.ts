import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  applyStats,
  columnStats,
  deltas,
  normalizeUtterance,
  stackColumns,
} from "@ser-edge/agent/features";

/** frames x 2 matrix: column 0 = f(t), column 1 = g(t). */
function matrix(frames: number, f: (t: number) => number, g: (t: number) => number) {
  const x = new Float32Array(frames * 2);
  for (let t = 0; t < frames; t++) {
    x[2 * t] = f(t);
    x[2 * t + 1] = g(t);
  }
  return x;
}

describe("deltas", () => {
  it("slope of a line and curvature of a parabola, edges included", () => {
    const x = matrix(
      30,
      (t) => 3 * t - 2,
      (t) => 0.5 * t * t - t,
    );
    const d1 = deltas(x, 2, 1);
    const d2 = deltas(x, 2, 2);
    for (let t = 0; t < 30; t++) {
      assert.ok(Math.abs(d1[2 * t] - 3) < 1e-5, `slope at ${t}: ${d1[2 * t]}`);
      assert.ok(Math.abs(d2[2 * t + 1] - 1) < 1e-5, `curvature at ${t}: ${d2[2 * t + 1]}`);
      assert.ok(Math.abs(d2[2 * t]) < 1e-5);
    }
  });

  it("shrinks the window for short utterances instead of failing", () => {
    const x = matrix(
      5,
      (t) => 2 * t,
      () => 1,
    );
    const d = deltas(x, 2, 1);
    for (let t = 0; t < 5; t++) assert.ok(Math.abs(d[2 * t] - 2) < 1e-6);
    assert.deepEqual(
      deltas(
        matrix(
          2,
          (t) => t,
          (t) => t,
        ),
        2,
        1,
      ),
      new Float32Array(4),
    );
    assert.equal(deltas(new Float32Array(0), 2, 2).length, 0);
  });
});

describe("normalisation", () => {
  it("per-utterance CMVN gives mean 0 and std 1 per coefficient", () => {
    const x = matrix(
      50,
      (t) => Math.sin(t) * 5 + 10,
      (t) => t * 0.1 - 3,
    );
    const n = normalizeUtterance(x, 2);
    const s = columnStats(n, 2);
    for (let c = 0; c < 2; c++) {
      assert.ok(Math.abs(s.mean[c]) < 1e-6);
      assert.ok(Math.abs(s.std[c] - 1) < 1e-5);
    }
  });

  it("a constant column does not blow up", () => {
    const x = matrix(
      10,
      () => 4,
      (t) => t,
    );
    const n = normalizeUtterance(x, 2);
    for (let t = 0; t < 10; t++) assert.equal(n[2 * t], 0);
  });

  it("global statistics from a manifest must have the right width", () => {
    const x = matrix(
      3,
      (t) => t,
      (t) => t,
    );
    const stats = { mean: Float64Array.of(1, 1), std: Float64Array.of(2, 0.5) };
    assert.deepEqual(Array.from(applyStats(x, 2, stats)), [-0.5, -2, 0, 0, 0.5, 2]);
    assert.throws(() => applyStats(x, 2, { mean: new Float64Array(3), std: new Float64Array(3) }));
  });

  it("stacks MFCC and deltas frame by frame", () => {
    const a = Float32Array.of(1, 2, 3, 4); // 2 frames x 2
    const b = Float32Array.of(9, 8); // 2 frames x 1
    const s = stackColumns([
      { data: a, width: 2 },
      { data: b, width: 1 },
    ]);
    assert.equal(s.width, 3);
    assert.deepEqual(Array.from(s.data), [1, 2, 9, 3, 4, 8]);
  });
});

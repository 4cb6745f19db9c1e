import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  argmaxRows,
  evaluate,
  formatMetricsTable,
  metricsFromScores,
} from "../../trainer/src/eval/metrics.js";

const close = (actual: number, expected: number, what: string) =>
  assert.ok(Math.abs(actual - expected) < 1e-12, `${what}: ${actual} != ${expected}`);

describe("evaluate", () => {
  // Hand-computed example. "c" is never predicted, "d" has no support but is predicted once,
  // "e" appears nowhere.
  //            pred a  b  c  d  e
  //   true a      2  1  0  0  0   support 3
  //   true b      0  1  0  1  0   support 2
  //   true c      1  2  0  0  0   support 3
  //   predicted   3  4  0  1  0
  const labels = ["a", "b", "c", "d", "e"];
  const yTrue = [0, 0, 0, 1, 1, 2, 2, 2];
  const yPred = [0, 0, 1, 1, 3, 0, 1, 1];
  const m = evaluate(yTrue, yPred, labels);

  it("builds the confusion matrix with rows = true, cols = predicted", () => {
    assert.deepEqual(m.confusion, [
      [2, 1, 0, 0, 0],
      [0, 1, 0, 1, 0],
      [1, 2, 0, 0, 0],
      [0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
    ]);
    assert.equal(m.confusion.length, labels.length);
    for (const row of m.confusion) assert.equal(row.length, labels.length);
    assert.equal(
      m.confusion.flat().reduce((a, b) => a + b, 0),
      m.n,
    );
    assert.equal(m.n, 8);
    assert.deepEqual(m.labels, labels);
  });

  it("computes per-class precision, recall, F1, support and predicted", () => {
    const by = Object.fromEntries(m.perClass.map((c) => [c.label, c]));
    assert.deepEqual(
      m.perClass.map((c) => [c.support, c.predicted]),
      [
        [3, 3],
        [2, 4],
        [3, 0],
        [0, 1],
        [0, 0],
      ],
    );
    close(by.a.precision, 2 / 3, "a precision");
    close(by.a.recall, 2 / 3, "a recall");
    close(by.a.f1, 2 / 3, "a f1");
    close(by.b.precision, 1 / 4, "b precision");
    close(by.b.recall, 1 / 2, "b recall");
    close(by.b.f1, 1 / 3, "b f1");
    // Never predicted: precision 0 by definition.
    assert.equal(by.c.precision, 0);
    assert.equal(by.c.recall, 0);
    assert.equal(by.c.f1, 0);
    // No support: recall 0, and the one prediction is a false alarm.
    assert.equal(by.d.precision, 0);
    assert.equal(by.d.recall, 0);
    assert.equal(by.e.f1, 0);
  });

  it("averages UAR over supported classes and macro F1 over supported or predicted ones", () => {
    close(m.accuracy, 3 / 8, "accuracy");
    // (2/3 + 1/2 + 0) / 3: d and e have no support and are left out.
    close(m.uar, 7 / 18, "uar");
    // (2/3 + 1/3 + 0 + 0) / 4: d counts (predicted once), e does not (absent from both).
    close(m.macroF1, 1 / 4, "macroF1");
  });

  it("separates UAR from accuracy on imbalanced data", () => {
    // 90 of class 0, 10 of class 1, a classifier that always says 0.
    const t = [...new Array(90).fill(0), ...new Array(10).fill(1)];
    const p = new Array(100).fill(0);
    const r = evaluate(t, p, ["majority", "minority"]);
    close(r.accuracy, 0.9, "accuracy");
    close(r.uar, 0.5, "uar = chance");
    close(r.macroF1, (2 * 0.9) / 1.9 / 2, "macroF1");
    assert.deepEqual(r.confusion, [
      [90, 0],
      [10, 0],
    ]);
  });

  it("scores a perfect classifier 1 everywhere", () => {
    const r = evaluate([0, 1, 2, 2], [0, 1, 2, 2], ["x", "y", "z"]);
    assert.equal(r.accuracy, 1);
    assert.equal(r.uar, 1);
    assert.equal(r.macroF1, 1);
  });

  it("returns zeros for an empty set", () => {
    const r = evaluate([], [], ["x", "y"]);
    assert.equal(r.n, 0);
    assert.equal(r.accuracy, 0);
    assert.equal(r.uar, 0);
    assert.equal(r.macroF1, 0);
  });

  it("rejects mismatched lengths and indices outside the label set", () => {
    assert.throws(() => evaluate([0, 1], [0], ["x", "y"]), RangeError);
    assert.throws(() => evaluate([0, 2], [0, 1], ["x", "y"]), RangeError);
    assert.throws(() => evaluate([0, 1], [0, -1], ["x", "y"]), RangeError);
    assert.throws(() => evaluate([0, 0.5], [0, 1], ["x", "y"]), RangeError);
    assert.throws(() => evaluate([], [], []), RangeError);
  });
});

describe("metricsFromScores", () => {
  const labels = ["x", "y", "z"];
  const rows = [
    [0.7, 0.2, 0.1],
    [0.1, 0.3, 0.6],
    [0.2, 0.5, 0.3],
    [0.4, 0.4, 0.2], // tie: lowest index wins
  ];

  it("takes the argmax of nested and flat row-major scores alike", () => {
    assert.deepEqual(argmaxRows(rows, 3), [0, 2, 1, 0]);
    const flat = Float32Array.from(rows.flat());
    assert.deepEqual(argmaxRows(flat, 3), [0, 2, 1, 0]);
    const a = metricsFromScores([0, 2, 2, 1], rows, labels);
    const b = metricsFromScores([0, 2, 2, 1], flat, labels);
    assert.deepEqual(a, b);
    assert.deepEqual(a, evaluate([0, 2, 2, 1], [0, 2, 1, 0], labels));
  });

  it("never picks NaN", () => {
    assert.deepEqual(argmaxRows([[Number.NaN, 0.1, 0.2]], 3), [2]);
  });

  it("rejects scores of the wrong width", () => {
    assert.throws(() => metricsFromScores([0], [[0.1, 0.9]], labels), RangeError);
    assert.throws(() => metricsFromScores([0], new Float32Array(4), labels), RangeError);
    assert.throws(() => metricsFromScores([0, 1], new Float32Array(3), labels), RangeError);
  });
});

describe("formatMetricsTable", () => {
  it("prints the headline, one row per class and the confusion matrix", () => {
    const m = evaluate([0, 0, 1, 2], [0, 1, 1, 2], ["neutral", "angry", "sad"]);
    const text = formatMetricsTable(m);
    assert.match(text, /UAR 83\.3%/);
    assert.match(text, /accuracy 75\.0%/);
    const lines = text.split("\n");
    for (const label of m.labels) {
      assert.equal(lines.filter((l) => l.startsWith(label)).length, 2, label);
    }
    assert.ok(lines.every((l) => l.length <= 100));
  });
});

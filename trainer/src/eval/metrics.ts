/**
 * Classification metrics for speech emotion recognition.
 *
 * Definitions (K = labels.length, classes are indices 0..K-1 into `labels`):
 * - support(c)   = number of clips whose true class is c.
 * - predicted(c) = number of clips predicted as c.
 * - precision(c) = TP / predicted(c); 0 when predicted(c) = 0 (nothing predicted, nothing right).
 * - recall(c)    = TP / support(c);   0 when support(c) = 0 (and such a class is left out of UAR).
 * - f1(c)        = 2PR / (P + R);     0 when P + R = 0.
 * - accuracy     = correct / n (the weighted average recall).
 * - UAR          = mean of recall(c) over the classes with support(c) > 0. This is the SER
 *                  literature's headline number: chance level is 1/K however imbalanced the
 *                  set, and a class absent from a set (e.g. "calm" in a cross-corpus set)
 *                  neither helps nor hurts.
 * - macroF1      = mean of f1(c) over the classes with support(c) > 0 OR predicted(c) > 0.
 *                  A class that is never true but is predicted counts with f1 = 0, so false
 *                  alarms on a missing class are punished; a class absent from both truth and
 *                  predictions is ignored. (sklearn's f1_score(average="macro") instead
 *                  averages over every listed label, which drags the score down for labels a
 *                  set simply does not contain.)
 * With n = 0 every rate is 0 and `n` says why.
 */

export interface ClassMetrics {
  label: string;
  precision: number;
  recall: number;
  f1: number;
  /** Clips whose true class is this one. */
  support: number;
  /** Clips predicted as this class. */
  predicted: number;
}

export interface Metrics {
  /** Number of clips evaluated. */
  n: number;
  labels: string[];
  accuracy: number;
  /** Unweighted average recall over classes with support > 0. */
  uar: number;
  /** Mean F1 over classes with support > 0 or predictions > 0. */
  macroF1: number;
  perClass: ClassMetrics[];
  /** confusion[t][p] = clips of true class t predicted as p (rows = true, cols = predicted). */
  confusion: number[][];
}

function checkClass(v: number, k: number, what: string, i: number): void {
  if (!Number.isInteger(v) || v < 0 || v >= k) {
    throw new RangeError(`${what}[${i}] = ${v} is not a class index in [0, ${k})`);
  }
}

function mean(xs: number[]): number {
  return xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length;
}

/** Metrics of predicted class indices against true class indices (both index `labels`). */
export function evaluate(yTrue: number[], yPred: number[], labels: string[]): Metrics {
  const k = labels.length;
  if (k === 0) throw new RangeError("labels must not be empty");
  if (yTrue.length !== yPred.length) {
    throw new RangeError(`yTrue has ${yTrue.length} entries but yPred has ${yPred.length}`);
  }
  const confusion = labels.map(() => new Array<number>(k).fill(0));
  for (let i = 0; i < yTrue.length; i++) {
    checkClass(yTrue[i], k, "yTrue", i);
    checkClass(yPred[i], k, "yPred", i);
    confusion[yTrue[i]][yPred[i]]++;
  }
  const n = yTrue.length;
  let correct = 0;
  const perClass: ClassMetrics[] = labels.map((label, c) => {
    const tp = confusion[c][c];
    correct += tp;
    const support = confusion[c].reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, row) => a + row[c], 0);
    const precision = predicted > 0 ? tp / predicted : 0;
    const recall = support > 0 ? tp / support : 0;
    const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
    return { label, precision, recall, f1, support, predicted };
  });
  return {
    n,
    labels: [...labels],
    accuracy: n > 0 ? correct / n : 0,
    uar: mean(perClass.filter((c) => c.support > 0).map((c) => c.recall)),
    macroF1: mean(perClass.filter((c) => c.support > 0 || c.predicted > 0).map((c) => c.f1)),
    perClass,
    confusion,
  };
}

/**
 * Index of the largest score in each row; ties go to the lowest index, NaN never wins.
 * `scores` is either one array per clip or a flat row-major Float32Array of n × K values,
 * as a tfjs `dataSync()` of a [n, K] tensor gives.
 */
export function argmaxRows(scores: Float32Array | number[][], k: number): number[] {
  const rows: ArrayLike<number>[] = [];
  if (Array.isArray(scores)) {
    scores.forEach((row, i) => {
      if (row.length !== k) throw new RangeError(`scores[${i}] has ${row.length} values, not ${k}`);
      rows.push(row);
    });
  } else {
    if (scores.length % k !== 0) {
      throw new RangeError(`flat scores have ${scores.length} values, not a multiple of ${k}`);
    }
    for (let i = 0; i < scores.length; i += k) rows.push(scores.subarray(i, i + k));
  }
  return rows.map((row) => {
    let best = 0;
    for (let c = 1; c < k; c++) {
      if (row[c] > row[best] || (Number.isNaN(row[best]) && !Number.isNaN(row[c]))) best = c;
    }
    return best;
  });
}

/** `evaluate` on the argmax of per-class scores (logits or probabilities, either works). */
export function metricsFromScores(
  yTrue: number[],
  scores: Float32Array | number[][],
  labels: string[],
): Metrics {
  if (labels.length === 0) throw new RangeError("labels must not be empty");
  return evaluate(yTrue, argmaxRows(scores, labels.length), labels);
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

/** A plain-text summary and per-class table for the console. */
export function formatMetricsTable(m: Metrics): string {
  const width = Math.max(11, ...m.labels.map((l) => l.length));
  // "–" marks a rate that is 0 by definition (nothing predicted / no clips), not by failure.
  const rate = (x: number, defined: boolean) => (defined ? pct(x) : "–");
  const head = [
    `n=${m.n}  UAR ${pct(m.uar)}  accuracy ${pct(m.accuracy)}  macro F1 ${pct(m.macroF1)}`,
    "",
    `${"class".padEnd(width)}  precision  recall      f1  support  predicted`,
  ];
  const rows = m.perClass.map(
    (c) =>
      `${c.label.padEnd(width)}  ${rate(c.precision, c.predicted > 0).padStart(9)}  ` +
      `${rate(c.recall, c.support > 0).padStart(6)}  ${pct(c.f1).padStart(6)}  ` +
      `${String(c.support).padStart(7)}  ${String(c.predicted).padStart(9)}`,
  );
  const undefinedRates = m.perClass.some((c) => c.support === 0 || c.predicted === 0);
  const legend = undefinedRates
    ? [
        "– = never predicted (precision) or no clips (recall): counted as 0, no-clip classes not in UAR",
      ]
    : [];
  // Confusion matrix with short column heads so 8 classes fit in 80 columns.
  const cell = Math.max(4, String(Math.max(0, ...m.confusion.flat())).length + 1);
  const heads = m.labels.map((l) => l.slice(0, cell - 1).padStart(cell)).join("");
  const conf = [
    "",
    `${"true \\ pred".padEnd(width)}${heads}`,
    ...m.confusion.map(
      (row, t) =>
        `${m.labels[t].padEnd(width)}${row.map((v) => String(v).padStart(cell)).join("")}`,
    ),
  ];
  return [...head, ...rows, ...legend, ...conf].join("\n");
}

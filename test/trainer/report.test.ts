import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { evaluate } from "../../trainer/src/eval/metrics.js";
import { type ReportInput, renderReport } from "../../trainer/src/eval/report.js";
import { METRICS_SCHEMA, toMetricsFile, writeReport } from "../../trainer/src/eval/write.js";
import { makeSampleInput } from "../fixtures/report/make-sample.js";

const EVIL = "<script>alert(1)</script>";

function smallInput(): ReportInput {
  const labels = ["neutral", EVIL, "angry & loud"];
  const val = evaluate([0, 0, 1, 1, 2, 2, 2], [0, 1, 1, 1, 2, 0, 2], labels);
  const test = evaluate([0, 1, 2, 2], [0, 2, 2, 2], labels);
  return {
    title: 'model "x" <b>',
    createdAt: "2025-01-01T00:00:00Z",
    arch: "tiny",
    params: 1234,
    featureSummary: "40 MFCC",
    split: {
      train: { speakers: ["a:1", "a:2"], clips: 10, labelCounts: { neutral: 4, [EVIL]: 3 } },
      validation: { speakers: ["a:3"], clips: 7, labelCounts: { neutral: 2, [EVIL]: 2 } },
      test: { speakers: ["a:4"], clips: 4, labelCounts: { neutral: 1, "angry & loud": 2 } },
    },
    sets: [
      { name: "validation", metrics: val },
      { name: "test", metrics: test },
    ],
    history: [
      { epoch: 1, trainLoss: 1.1, valLoss: 1.2, valUar: 0.4, lr: 1e-3, seconds: 2 },
      { epoch: 2, trainLoss: 0.9, valLoss: 1.0, valUar: 0.6 },
      { epoch: 3, trainLoss: 0.8 },
    ],
    bestEpoch: 2,
    notes: ["path /data/<odd>&name.wav"],
    backend: "cpu",
    wallSeconds: 75,
    peakRssMb: 300,
  };
}

/** The heat-map cells' counts in document order. */
function cellCounts(html: string): number[] {
  return [...html.matchAll(/<rect class="cell[^"]*"[^>]*data-count="(\d+)"/g)].map((m) =>
    Number(m[1]),
  );
}

describe("renderReport", () => {
  const input = smallInput();
  const html = renderReport(input);

  it("draws one SVG heat map per set with K×K cells carrying the counts", () => {
    assert.equal((html.match(/<svg class="heatmap"/g) ?? []).length, 2);
    const counts = cellCounts(html);
    assert.equal(counts.length, 2 * 3 * 3);
    assert.deepEqual(counts, [
      ...input.sets[0].metrics.confusion.flat(),
      ...input.sets[1].metrics.confusion.flat(),
    ]);
    // The count is also printed in the cell, not only stored in an attribute.
    assert.match(html, /class="count">2<\/text>/);
  });

  it("escapes labels, titles and notes", () => {
    assert.doesNotMatch(html, /<script/i);
    assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert.ok(html.includes("angry &amp; loud"));
    assert.ok(html.includes("model &quot;x&quot; &lt;b&gt;"));
    assert.ok(html.includes("/data/&lt;odd&gt;&amp;name.wav"));
  });

  it("is self-contained: no URLs, no scripts, a CSP that forbids fetching", () => {
    assert.equal(html.match(/https?:\/\//g), null);
    assert.doesNotMatch(html, /<(script|link|img|iframe)\b/i);
    assert.match(html, /Content-Security-Policy" content="default-src 'none'/);
    assert.equal((html.match(/<svg\b/g) ?? []).length, (html.match(/<\/svg>/g) ?? []).length);
  });

  it("states the headline numbers and the speaker split", () => {
    assert.ok(html.includes(`${(100 * input.sets[0].metrics.uar).toFixed(1)}%`));
    assert.match(html, /Speaker-independent: train speakers a 1, 2 \(2\), validation speakers a 3/);
    assert.match(html, /best epoch 2/);
  });

  it("says when the model is a weight average rather than a chosen epoch", () => {
    const averaged = renderReport({ ...smallInput(), averagedEpochs: 3 });
    assert.match(averaged, /average of the weights after each of the last <b>3<\/b>/);
    assert.doesNotMatch(averaged, /Best epoch <b>/);
    assert.doesNotMatch(html, /average of the weights/);
  });

  it("warns when a speaker is in more than one set", () => {
    const leaky = smallInput();
    leaky.split.test = { clips: 4, labelCounts: {}, speakers: ["a:4", "a:1"] };
    const out = renderReport(leaky);
    assert.match(out, /NOT speaker-independent: a:1 \(train, test\)/);
    assert.doesNotMatch(out, /Speaker-independent:/);
  });

  it("handles 2 to 8 classes, sets without history and a missing test split", () => {
    for (const k of [2, 8]) {
      const labels = Array.from({ length: k }, (_, i) => `class${i}`);
      const y = labels.map((_, i) => i);
      const one = smallInput();
      one.sets = [{ name: "validation", metrics: evaluate(y, y, labels) }];
      one.split.test = undefined;
      one.history = [];
      const out = renderReport(one);
      assert.equal(cellCounts(out).length, k * k);
      assert.match(out, /No history recorded/);
    }
  });

  it("renders the realistic sample: 3 sets of 8 classes", () => {
    const sample = renderReport(makeSampleInput());
    assert.equal(cellCounts(sample).length, 3 * 64);
    assert.equal(sample.match(/https?:\/\//g), null);
  });
});

describe("writeReport", () => {
  it("writes report.html and metrics.json that round-trips, leaving no temp files", async () => {
    const dir = join(mkdtempSync(join(tmpdir(), "ser-report-")), "nested");
    const input = smallInput();
    const { html, json } = await writeReport(dir, input);
    assert.equal(readFileSync(html, "utf8"), renderReport(input));
    const parsed = JSON.parse(readFileSync(json, "utf8"));
    assert.equal(parsed.schema, METRICS_SCHEMA);
    assert.deepEqual(parsed, toMetricsFile(input));
    assert.deepEqual(parsed.sets[0].metrics, input.sets[0].metrics);
    assert.deepEqual(readdirSync(dir).sort(), ["metrics.json", "report.html"]);
    // Overwriting an existing report works the same way.
    await writeReport(dir, makeSampleInput());
    assert.equal(JSON.parse(readFileSync(json, "utf8")).sets.length, 3);
    assert.deepEqual(readdirSync(dir).sort(), ["metrics.json", "report.html"]);
  });
});

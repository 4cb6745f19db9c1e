/**
 * report.html: one self-contained page (inline CSS and SVG, no scripts, no network) that says
 * how good a model is and how the number was obtained. A Content-Security-Policy forbids any
 * fetch, so a report that renders offline is guaranteed to be the whole report.
 */
import { classBars, confusionHeatmap, groupedBars, lineChart, PALETTE } from "./charts.js";
import { compact, duration, esc, num, pct } from "./html.js";
import type { Metrics } from "./metrics.js";
import { type SplitInfo, speakerOverlaps, splitParts, summarizeSpeakers } from "./split.js";

export type { SplitInfo, SplitPart } from "./split.js";

/** One epoch of training history. Validation values are absent when not measured. */
export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  valLoss?: number;
  valUar?: number;
  lr?: number;
  seconds?: number;
}

/** An evaluated set: "validation", "test", or a cross-corpus set such as "crema-d". */
export interface EvaluatedSet {
  name: string;
  metrics: Metrics;
}

export interface ReportInput {
  /** Model name, e.g. "ser-cnn-ravdess". */
  title: string;
  /** ISO 8601 time the model was created. */
  createdAt: string;
  /** Architecture, e.g. "CNN 3×conv + GAP + dense". */
  arch: string;
  /** Model version, if any. */
  version?: string;
  /** Number of trainable parameters. */
  params: number;
  /** Features fed to the model, e.g. "40 MFCC + Δ + ΔΔ, 16 kHz, 25 ms / 10 ms, CMVN". */
  featureSummary: string;
  split: SplitInfo;
  sets: EvaluatedSet[];
  history: EpochRecord[];
  /** Epoch whose weights were kept. */
  bestEpoch: number;
  /** Set when the model is a weight average (`--swa`): over how many of the last epochs. */
  averagedEpochs?: number;
  notes?: string[];
  /** tfjs backend used for training, e.g. "wasm". */
  backend?: string;
  wallSeconds?: number;
  peakRssMb?: number;
}

const CSS = `
*{box-sizing:border-box}
body{margin:0;background:#f6f7f9;color:#1a1a1a;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif}
main{max-width:1220px;margin:0 auto;padding:24px 28px 40px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:0 0 12px}
h3{font-size:15px;margin:0 0 8px}
.split+h3,ul.speakers+h3{margin-top:14px}
.sub,.muted{color:#5b6470;fill:#5b6470}
section{background:#fff;border:1px solid #dde1e6;border-radius:8px;padding:18px 22px;margin:16px 0}
.cards{display:flex;flex-wrap:wrap;gap:14px;margin:14px 0 10px}
.card{flex:1 1 240px;max-width:400px;border:1px solid #dde1e6;border-radius:8px;padding:12px 16px;background:#fbfcfd}
.card .name{font-weight:600}
.card .big{font-size:34px;font-weight:700;line-height:1.1}
.card .big small{font-size:14px;font-weight:400;color:#5b6470;margin-left:6px}
.card .row{display:flex;gap:18px;color:#333}
.split{margin:6px 0 0}
.warn{color:#a61b1b;font-weight:600}
.pair{display:grid;grid-template-columns:repeat(auto-fit,minmax(460px,1fr));gap:20px 32px;align-items:start}
.pair>div{min-width:0}
svg{max-width:100%;height:auto;display:block}
.axis-title,.chart-title{font-weight:600}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
th,td{padding:4px 10px;border-bottom:1px solid #e6e8eb;text-align:right}
th:first-child,td:first-child{text-align:left}
thead th{border-bottom:2px solid #c9ced4}
tr.best td{background:#fdf0ee;font-weight:600}
ul.speakers{margin:4px 0 12px;padding:0;list-style:none;display:flex;flex-wrap:wrap;gap:4px 6px}
ul.speakers li{background:#eef1f4;border-radius:4px;padding:1px 7px;font-size:12.5px}
dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 16px;margin:0}
dt{color:#5b6470}dd{margin:0}
details summary{cursor:pointer;color:#2c5d8a;margin-top:10px}
@page{size:A4 landscape;margin:10mm}
@media print{
 body{background:#fff;font-size:11.5px}
 .pair{grid-template-columns:1fr 1fr}
 .pair>div,ul.speakers{break-inside:avoid}
 h2,h3{break-after:avoid}
 main{max-width:none;padding:0}
 section{break-inside:avoid;border:none;padding:8px 0;margin:8px 0}
 .card,section{-webkit-print-color-adjust:exact;print-color-adjust:exact}
 details{display:none}
}`;

/** "validation" → "Validation"; other set names (e.g. "crema-d (cross-corpus)") stay as given. */
const cap = (s: string) =>
  s === "validation" || s === "test" || s === "train" ? s.charAt(0).toUpperCase() + s.slice(1) : s;

/** Chance UAR: a constant or random guess recalls 1/K on average over the present classes. */
function chance(m: Metrics): number {
  const present = m.perClass.filter((c) => c.support > 0).length;
  return present > 0 ? 1 / present : 0;
}

function card(set: { name: string; metrics: Metrics }): string {
  const m = set.metrics;
  return `<div class="card"><div class="name">${esc(cap(set.name))}</div>
<div class="big">${pct(m.uar)}<small>UAR</small></div>
<div class="row"><span>accuracy <b>${pct(m.accuracy)}</b></span><span>macro F1 <b>${pct(m.macroF1)}</b></span></div>
<div class="muted">${m.n} clips · chance UAR ${pct(chance(m))}</div></div>`;
}

function splitLine(split: SplitInfo): string {
  const overlaps = speakerOverlaps(split);
  const parts = splitParts(split)
    .map(
      ([name, p]) =>
        `${name} speakers ${esc(summarizeSpeakers(p.speakers))} (${p.speakers.length})`,
    )
    .join(", ");
  if (overlaps.length > 0) {
    return `<p class="split warn">NOT speaker-independent: ${esc(overlaps.join("; "))} appear in more than one set. ${parts}.</p>`;
  }
  return `<p class="split">Speaker-independent: ${parts}; no speaker is in more than one set.</p>`;
}

function setSection(set: EvaluatedSet): string {
  const m = set.metrics;
  const name = esc(cap(set.name));
  return `<section class="set"><h2>${name} <span class="muted">(${m.n} clips)</span></h2>
<div class="pair"><div><h3>Confusion matrix</h3>${confusionHeatmap(m, `${set.name} confusion matrix`)}
<p class="muted">Rows: true class; columns: predicted. Colour and % are row-normalised (recall on the diagonal); numbers are clip counts.</p></div>
<div><h3>Per-class precision and recall</h3>${classBars(m, `${set.name} per-class precision and recall`)}</div></div></section>`;
}

function historySection(input: ReportInput): string {
  const h = input.history;
  if (h.length === 0)
    return `<section><h2>Learning curves</h2><p class="muted">No history recorded.</p></section>`;
  const best = h.find((e) => e.epoch === input.bestEpoch);
  const averageFrom = input.averagedEpochs ? h.length - input.averagedEpochs + 1 : undefined;
  const markX = averageFrom
    ? { x: averageFrom, label: `weights averaged from epoch ${averageFrom}` }
    : { x: input.bestEpoch, label: `best epoch ${input.bestEpoch}` };
  const loss = lineChart({
    title: "Loss",
    yLabel: "cross-entropy",
    series: [
      { name: "train", color: PALETTE[0], points: h.map((e) => [e.epoch, e.trainLoss]) },
      {
        name: "validation",
        color: PALETTE[1],
        points: h.filter((e) => e.valLoss !== undefined).map((e) => [e.epoch, e.valLoss as number]),
      },
    ],
    markX,
    yFormat: (v) => num(v, 2),
  });
  const uarPts = h
    .filter((e) => e.valUar !== undefined)
    .map((e): [number, number] => [e.epoch, e.valUar as number]);
  const valSet = input.sets.find((s) => s.name === "validation") ?? input.sets[0];
  const hiUar = Math.max(0, ...uarPts.map((p) => p[1]));
  const uar = lineChart({
    title: "Validation UAR",
    yLabel: "UAR",
    series: [{ name: "validation UAR", color: PALETTE[2], points: uarPts }],
    yDomain: [0, Math.min(1, Math.ceil((hiUar + 0.05) * 10) / 10)],
    markX,
    refY: valSet ? { y: chance(valSet.metrics), label: "chance" } : undefined,
    yFormat: (v) => pct(v, 0),
  });
  const bestLine = input.averagedEpochs
    ? `The model is the average of the weights after each of the last <b>${input.averagedEpochs}</b> of ${h.length} epochs: no epoch was chosen by validation UAR (the per-epoch figures below are the un-averaged weights'; the model's own are in the tables above).`
    : best
      ? `Best epoch <b>${best.epoch}</b> of ${h.length}: validation UAR ${pct(best.valUar)}, validation loss ${num(best.valLoss)}, train loss ${num(best.trainLoss)}.`
      : `Best epoch ${input.bestEpoch} (not in the recorded history).`;
  const rows = h
    .map(
      (e) =>
        `<tr${e.epoch === input.bestEpoch ? ' class="best"' : ""}><td>${e.epoch}</td><td>${num(e.trainLoss, 4)}</td>` +
        `<td>${num(e.valLoss, 4)}</td><td>${pct(e.valUar)}</td><td>${e.lr === undefined ? "–" : e.lr.toExponential(2)}</td>` +
        `<td>${e.seconds === undefined ? "–" : e.seconds.toFixed(1)}</td></tr>`,
    )
    .join("");
  return `<section><h2>Learning curves</h2><p>${bestLine}</p><div class="pair"><div>${loss}</div><div>${uar}</div></div>
<details><summary>Per-epoch table</summary><table><thead><tr><th>epoch</th><th>train loss</th><th>val loss</th><th>val UAR</th><th>lr</th><th>s</th></tr></thead><tbody>${rows}</tbody></table></details></section>`;
}

/** Label order: the evaluated sets' labels first, then any others in the split's counts. */
function allLabels(input: ReportInput): string[] {
  const labels = new Set<string>(input.sets.flatMap((s) => s.metrics.labels));
  for (const [, p] of splitParts(input.split))
    for (const l of Object.keys(p.labelCounts)) labels.add(l);
  return [...labels];
}

function compositionSection(input: ReportInput): string {
  const parts = splitParts(input.split);
  const labels = allLabels(input);
  // Shares, not counts, so the label balance of a small test set compares with train's.
  const chart = groupedBars(
    "Share of each split's clips per label",
    labels,
    parts.map(([name, p], i) => ({
      name: `${name} (${p.clips})`,
      color: PALETTE[i],
      values: labels.map((l) => (p.clips > 0 ? (p.labelCounts[l] ?? 0) / p.clips : 0)),
    })),
  );
  const head = `<tr><th>label</th>${parts.map(([n]) => `<th>${esc(n)}</th>`).join("")}<th>total</th></tr>`;
  const body = labels
    .map((l) => {
      const counts = parts.map(([, p]) => p.labelCounts[l] ?? 0);
      return `<tr><td>${esc(l)}</td>${counts.map((c) => `<td>${c}</td>`).join("")}<td>${counts.reduce((a, b) => a + b, 0)}</td></tr>`;
    })
    .join("");
  const totals = parts.map(([, p]) => p.clips);
  const foot = `<tr><th>clips</th>${totals.map((c) => `<th>${c}</th>`).join("")}<th>${totals.reduce((a, b) => a + b, 0)}</th></tr>`;
  const speakers = parts
    .map(
      ([name, p]) =>
        `<h3>${esc(cap(name))}: ${p.speakers.length} speakers, ${p.clips} clips</h3>` +
        `<ul class="speakers">${[...p.speakers]
          .sort(byId)
          .map((s) => `<li>${esc(s)}</li>`)
          .join("")}</ul>`,
    )
    .join("");
  return `<section><h2>Dataset composition</h2><div class="pair"><div>${chart}</div>
<div><table><thead>${head}</thead><tbody>${body}</tbody><tfoot>${foot}</tfoot></table></div></div></section>
<section><h2>Split by speaker</h2>${splitLine(input.split)}${speakers}</section>`;
}

/** Natural order so "ravdess:2" sorts before "ravdess:10". */
function byId(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

function runSection(input: ReportInput): string {
  const rows: [string, string][] = [
    ["Architecture", input.arch],
    ["Parameters", `${compact(input.params)} (${input.params.toLocaleString("en-US")})`],
    ["Features", input.featureSummary],
  ];
  if (input.backend) rows.push(["Backend", input.backend]);
  if (input.wallSeconds !== undefined) rows.push(["Wall time", duration(input.wallSeconds)]);
  if (input.peakRssMb !== undefined) rows.push(["Peak RSS", `${Math.round(input.peakRssMb)} MB`]);
  rows.push(["Created", input.createdAt]);
  const dl = rows.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join("");
  const notes = input.notes?.length
    ? `<h3 style="margin-top:14px">Notes</h3><ul>${input.notes.map((n) => `<li>${esc(n)}</li>`).join("")}</ul>`
    : "";
  return `<section><h2>Run</h2><dl>${dl}</dl>${notes}</section>`;
}

/** Sets in headline order: validation, test, then the others (cross-corpus) as given. */
function ordered(sets: EvaluatedSet[]): EvaluatedSet[] {
  const rank = (n: string) => (n === "validation" ? 0 : n === "test" ? 1 : 2);
  return [...sets].sort((a, b) => rank(a.name) - rank(b.name));
}

/** The whole report as one HTML document. */
export function renderReport(input: ReportInput): string {
  const sets = ordered(input.sets);
  const version = input.version ? ` v${input.version}` : "";
  const sub = [input.arch, `${compact(input.params)} parameters`, `created ${input.createdAt}`];
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(input.title + version)} — ser-edge report</title>
<style>${CSS}</style></head>
<body><main>
<header><h1>${esc(input.title)}${esc(version)}</h1><p class="sub">${sub.map(esc).join(" · ")}</p></header>
<section><h2>Results</h2><div class="cards">${sets.map(card).join("")}</div>${splitLine(input.split)}
<p class="muted">UAR = mean recall over the classes present in a set (chance = 1 / their number); macro F1 = mean F1 over the classes present or predicted.</p></section>
${sets.map(setSection).join("\n")}
${historySection(input)}
${compositionSection(input)}
${runSection(input)}
</main></body></html>
`;
}

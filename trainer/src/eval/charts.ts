/**
 * Inline SVG charts for report.html. Pure functions from data to markup: no scripts, no
 * external assets, so the report is one file that opens offline and prints. Inline <svg> in
 * HTML needs no xmlns, which keeps the document free of URLs.
 */
import { esc, pct } from "./html.js";
import type { Metrics } from "./metrics.js";

/** Series colours, distinguishable for the common colour-vision deficiencies (Okabe–Ito). */
export const PALETTE = ["#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00"];

const FONT = 12;
/** Rough advance of a 12 px sans-serif character, to size margins for labels. */
const CHAR_W = 7;

const r1 = (x: number): string => String(Math.round(x * 10) / 10);

function text(
  x: number,
  y: number,
  body: string,
  attrs: Record<string, string | number> = {},
): string {
  const extra = Object.entries(attrs)
    .map(([k, v]) => ` ${k}="${esc(v)}"`)
    .join("");
  return `<text x="${r1(x)}" y="${r1(y)}"${extra}>${esc(body)}</text>`;
}

function svgOpen(width: number, height: number, label: string, cls: string): string {
  return (
    `<svg class="${cls}" viewBox="0 0 ${r1(width)} ${r1(height)}" width="${r1(width)}" ` +
    `height="${r1(height)}" role="img" aria-label="${esc(label)}" font-size="${FONT}">`
  );
}

/** Blues, white → navy: perceptually ordered and prints legibly in greyscale. */
const BLUES: [number, number, number][] = [
  [247, 251, 255],
  [198, 219, 239],
  [107, 174, 214],
  [33, 113, 181],
  [8, 48, 107],
];

export function blues(f: number): string {
  const x = Math.min(1, Math.max(0, f)) * (BLUES.length - 1);
  const i = Math.min(BLUES.length - 2, Math.floor(x));
  const t = x - i;
  const c = BLUES[i].map((v, j) => Math.round(v + (BLUES[i + 1][j] - v) * t));
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

/**
 * Confusion matrix heat map: rows = true class, columns = predicted class. Colour is the row
 * fraction (recall for the diagonal) so rare classes are as visible as common ones; each cell
 * shows the count and, when there is room, the row percentage. Every cell is a
 * `<rect class="cell">` with a <title> tooltip.
 */
export function confusionHeatmap(m: Metrics, caption: string): string {
  const k = m.labels.length;
  const cell = k <= 4 ? 72 : k <= 6 ? 60 : 54;
  const longest = Math.max(...m.labels.map((l) => l.length));
  const left = 34 + longest * CHAR_W;
  const top = 26;
  const bottom = 28 + longest * CHAR_W * 0.72;
  const right = 56;
  const width = left + k * cell + right;
  const height = top + k * cell + bottom;
  const out = [svgOpen(width, height, caption, "heatmap")];
  out.push(
    text(left + (k * cell) / 2, 14, "Predicted", { "text-anchor": "middle", class: "axis-title" }),
    text(12, top + (k * cell) / 2, "True", {
      "text-anchor": "middle",
      class: "axis-title",
      transform: `rotate(-90 12 ${r1(top + (k * cell) / 2)})`,
    }),
    text(left + k * cell + 8, top - 8, "n", { class: "muted" }),
  );
  m.confusion.forEach((row, t) => {
    const support = m.perClass[t].support;
    const y = top + t * cell;
    out.push(
      text(left - 8, y + cell / 2 + 4, m.labels[t], { "text-anchor": "end" }),
      text(left + k * cell + 8, y + cell / 2 + 4, String(support), { class: "muted" }),
    );
    row.forEach((count, p) => {
      const f = support > 0 ? count / support : 0;
      const x = left + p * cell;
      const fill = support > 0 ? blues(f) : "#eeeeee";
      const ink = f > 0.45 ? "#ffffff" : "#1a1a1a";
      const tip = `true ${m.labels[t]} → predicted ${m.labels[p]}: ${count} (${pct(f)} of ${m.labels[t]})`;
      out.push(
        `<rect class="cell${t === p ? " diag" : ""}" x="${r1(x)}" y="${r1(y)}" width="${cell}" ` +
          `height="${cell}" fill="${fill}" data-count="${count}"><title>${esc(tip)}</title></rect>`,
      );
      const showPct = support > 0 && count > 0;
      out.push(
        text(x + cell / 2, y + cell / 2 + (showPct ? 0 : 4), String(count), {
          "text-anchor": "middle",
          fill: ink,
          "font-weight": t === p ? "700" : "400",
          class: "count",
        }),
      );
      if (showPct) {
        out.push(
          text(x + cell / 2, y + cell / 2 + 14, pct(f, 0), {
            "text-anchor": "middle",
            fill: ink,
            "font-size": 10,
            "fill-opacity": 0.85,
          }),
        );
      }
    });
  });
  // Column labels slanted so eight long names fit under narrow cells.
  m.labels.forEach((label, p) => {
    const x = left + p * cell + cell / 2 + 4;
    const y = top + k * cell + 12;
    out.push(
      text(x, y, label, { "text-anchor": "end", transform: `rotate(-40 ${r1(x)} ${r1(y)})` }),
    );
  });
  out.push(
    `<rect x="${left}" y="${top}" width="${k * cell}" height="${k * cell}" fill="none" ` +
      `stroke="#999" stroke-width="1"/>`,
  );
  out.push("</svg>");
  return out.join("");
}

/** Horizontal precision and recall bars per class, with the values printed at the bar ends. */
export function classBars(m: Metrics, caption: string): string {
  const longest = Math.max(...m.perClass.map((c) => c.label.length + String(c.support).length));
  const left = 24 + (longest + 4) * CHAR_W;
  const barW = 320;
  const right = 84;
  const top = 34;
  const bar = 11;
  const rowH = 2 * bar + 12;
  const width = left + barW + right;
  const height = top + m.perClass.length * rowH + 24;
  const out = [svgOpen(width, height, caption, "bars")];
  const series: [string, string][] = [
    ["precision", PALETTE[0]],
    ["recall", PALETTE[1]],
  ];
  series.forEach(([name, color], i) => {
    const x = left + i * 100;
    out.push(
      `<rect x="${x}" y="6" width="12" height="12" fill="${color}"/>`,
      text(x + 17, 16, name),
    );
  });
  for (const tick of [0, 0.25, 0.5, 0.75, 1]) {
    const x = left + tick * barW;
    const yEnd = top + m.perClass.length * rowH - 6;
    out.push(
      `<line x1="${r1(x)}" y1="${top - 4}" x2="${r1(x)}" y2="${yEnd}" stroke="#ddd"/>`,
      text(x, yEnd + 16, pct(tick, 0), { "text-anchor": "middle", class: "muted" }),
    );
  }
  m.perClass.forEach((c, i) => {
    const y = top + i * rowH;
    out.push(text(left - 8, y + bar + 4, `${c.label} (n=${c.support})`, { "text-anchor": "end" }));
    // Precision of a never-predicted class and recall of an absent class are 0 by definition;
    // say why instead of drawing a bare 0%.
    const values: [number, string][] = [
      [c.precision, c.predicted > 0 ? pct(c.precision, 0) : "never predicted"],
      [c.recall, c.support > 0 ? pct(c.recall, 0) : "no clips"],
    ];
    values.forEach(([v, label], j) => {
      const yy = y + j * bar;
      const w = Math.max(0, Math.min(1, v)) * barW;
      out.push(
        `<rect x="${left}" y="${yy}" width="${r1(w)}" height="${bar - 1}" fill="${series[j][1]}">` +
          `<title>${esc(`${c.label} ${series[j][0]} ${label}`)}</title></rect>`,
        text(left + w + 4, yy + bar - 2, label, { "font-size": 10, class: "muted" }),
      );
    });
  });
  out.push("</svg>");
  return out.join("");
}

/** Round step (1, 2, 2.5 or 5 × 10^k) giving about `count` intervals over [lo, hi]. */
function niceStep(lo: number, hi: number, count: number): number {
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  return [1, 2, 2.5, 5, 10].map((s) => s * mag).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * mag;
}

/** Round tick values inside [lo, hi]. */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const step = niceStep(lo, hi, count);
  const ticks: number[] = [];
  for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
    ticks.push(Number(v.toPrecision(12)));
  }
  return ticks;
}

/** [lo, hi] widened outwards to round tick values, so the grid frames the data. */
export function niceDomain(lo: number, hi: number, count = 5): [number, number] {
  if (!(hi > lo)) return [lo - 1, hi + 1];
  const step = niceStep(lo, hi, count);
  const a = Math.floor(lo / step + 1e-9) * step;
  const b = Math.ceil(hi / step - 1e-9) * step;
  return [Number(a.toPrecision(12)), Number(b.toPrecision(12))];
}

export interface Series {
  name: string;
  points: [number, number][];
  color: string;
  dashed?: boolean;
}

export interface LineChartOptions {
  title: string;
  yLabel: string;
  series: Series[];
  /** Fixed y range; otherwise padded around the data. */
  yDomain?: [number, number];
  /** Vertical marker, e.g. the best epoch. */
  markX?: { x: number; label: string };
  /** Horizontal reference, e.g. chance level. */
  refY?: { y: number; label: string };
  yFormat?: (v: number) => string;
}

/** Line chart over epochs with optional best-epoch marker and reference line. */
export function lineChart(o: LineChartOptions): string {
  const width = 560;
  const height = 290;
  const pad = { left: 58, right: 16, top: 40, bottom: 44 };
  const pw = width - pad.left - pad.right;
  const ph = height - pad.top - pad.bottom;
  const pts = o.series
    .flatMap((s) => s.points)
    .filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
  const out = [svgOpen(width, height, o.title, "line")];
  out.push(text(pad.left, 16, o.title, { class: "chart-title" }));
  if (pts.length === 0) {
    out.push(text(width / 2, height / 2, "no data", { "text-anchor": "middle", class: "muted" }));
    out.push("</svg>");
    return out.join("");
  }
  const xs = pts.map((p) => p[0]);
  const xLo = Math.min(...xs);
  const xHi = Math.max(xLo + 1, ...xs);
  const ys = pts.map((p) => p[1]);
  const [yLo, yHi] = o.yDomain ?? niceDomain(Math.min(...ys), Math.max(...ys), 5);
  const sx = (x: number) => pad.left + ((x - xLo) / (xHi - xLo)) * pw;
  const sy = (y: number) => pad.top + (1 - (y - yLo) / (yHi - yLo)) * ph;
  const fmt = o.yFormat ?? ((v: number) => String(v));
  for (const t of niceTicks(yLo, yHi, 5)) {
    out.push(
      `<line x1="${pad.left}" y1="${r1(sy(t))}" x2="${width - pad.right}" y2="${r1(sy(t))}" stroke="#e4e4e4"/>`,
      text(pad.left - 6, sy(t) + 4, fmt(t), { "text-anchor": "end", class: "muted" }),
    );
  }
  for (const t of niceTicks(xLo, xHi, 6).filter((v) => Number.isInteger(v))) {
    out.push(
      `<line x1="${r1(sx(t))}" y1="${pad.top + ph}" x2="${r1(sx(t))}" y2="${pad.top + ph + 4}" stroke="#888"/>`,
      text(sx(t), pad.top + ph + 17, String(t), { "text-anchor": "middle", class: "muted" }),
    );
  }
  out.push(
    text(pad.left + pw / 2, height - 6, "epoch", { "text-anchor": "middle", class: "muted" }),
    text(14, pad.top + ph / 2, o.yLabel, {
      "text-anchor": "middle",
      class: "muted",
      transform: `rotate(-90 14 ${r1(pad.top + ph / 2)})`,
    }),
    `<rect x="${pad.left}" y="${pad.top}" width="${pw}" height="${ph}" fill="none" stroke="#bbb"/>`,
  );
  if (o.refY && o.refY.y >= yLo && o.refY.y <= yHi) {
    const y = sy(o.refY.y);
    out.push(
      `<line x1="${pad.left}" y1="${r1(y)}" x2="${pad.left + pw}" y2="${r1(y)}" stroke="#888" stroke-dasharray="2 3"/>`,
      text(pad.left + pw - 4, y - 4, o.refY.label, { "text-anchor": "end", class: "muted" }),
    );
  }
  if (o.markX) {
    const x = sx(o.markX.x);
    const anchor = x > pad.left + pw * 0.75 ? "end" : "start";
    out.push(
      `<line class="best" x1="${r1(x)}" y1="${pad.top}" x2="${r1(x)}" y2="${pad.top + ph}" stroke="#c0392b" stroke-dasharray="5 4"/>`,
      text(x + (anchor === "end" ? -4 : 4), pad.top + 12, o.markX.label, {
        "text-anchor": anchor,
        fill: "#c0392b",
      }),
    );
  }
  o.series.forEach((s, i) => {
    const good = s.points.filter(([x, y]) => Number.isFinite(x) && Number.isFinite(y));
    if (good.length === 0) return;
    const d = good.map(([x, y], j) => `${j === 0 ? "M" : "L"}${r1(sx(x))} ${r1(sy(y))}`).join("");
    const dash = s.dashed ? ' stroke-dasharray="6 3"' : "";
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`,
      ...good.map(
        ([x, y]) => `<circle cx="${r1(sx(x))}" cy="${r1(sy(y))}" r="2.2" fill="${s.color}"/>`,
      ),
    );
    // Legend along the top, right of the title.
    const lx = width - pad.right - (o.series.length - i) * 120 + 10;
    out.push(
      `<line x1="${lx}" y1="${28}" x2="${lx + 18}" y2="${28}" stroke="${s.color}" stroke-width="2"${dash}/>`,
      text(lx + 22, 32, s.name),
    );
  });
  out.push("</svg>");
  return out.join("");
}

export interface Group {
  name: string;
  values: number[];
  color: string;
}

/** Vertical grouped bars: one cluster per category, one bar per group. Values in [0, 1]. */
export function groupedBars(title: string, categories: string[], groups: Group[]): string {
  const longest = Math.max(...categories.map((c) => c.length));
  const cluster = Math.max(60, groups.length * 18 + 18);
  const pad = { left: 52, right: 16, top: 56, bottom: 18 + longest * CHAR_W * 0.72 };
  const width = pad.left + categories.length * cluster + pad.right;
  const ph = 210;
  const height = pad.top + ph + pad.bottom;
  const hi = Math.max(0.05, ...groups.flatMap((g) => g.values));
  const yHi = niceDomain(0, hi, 4)[1];
  const yTicks = niceTicks(0, yHi, 4);
  const sy = (v: number) => pad.top + (1 - v / yHi) * ph;
  const out = [svgOpen(width, height, title, "grouped")];
  out.push(text(pad.left, 16, title, { class: "chart-title" }));
  let lx = pad.left;
  groups.forEach((g) => {
    const x = lx;
    lx += 36 + g.name.length * CHAR_W;
    out.push(
      `<rect x="${x}" y="28" width="12" height="12" fill="${g.color}"/>`,
      text(x + 17, 38, g.name),
    );
  });
  for (const t of yTicks) {
    out.push(
      `<line x1="${pad.left}" y1="${r1(sy(t))}" x2="${width - pad.right}" y2="${r1(sy(t))}" stroke="#e4e4e4"/>`,
      text(pad.left - 6, sy(t) + 4, pct(t, 0), { "text-anchor": "end", class: "muted" }),
    );
  }
  const barW = (cluster - 14) / groups.length;
  categories.forEach((cat, c) => {
    const x0 = pad.left + c * cluster + 7;
    groups.forEach((g, i) => {
      const v = g.values[c] ?? 0;
      out.push(
        `<rect x="${r1(x0 + i * barW)}" y="${r1(sy(v))}" width="${r1(barW - 1)}" ` +
          `height="${r1(pad.top + ph - sy(v))}" fill="${g.color}">` +
          `<title>${esc(`${g.name} ${cat}: ${pct(v)}`)}</title></rect>`,
      );
    });
    const lx = x0 + (cluster - 14) / 2 + 4;
    const ly = pad.top + ph + 14;
    out.push(text(lx, ly, cat, { "text-anchor": "end", transform: `rotate(-40 ${r1(lx)} ${ly})` }));
  });
  out.push(
    `<line x1="${pad.left}" y1="${pad.top + ph}" x2="${width - pad.right}" y2="${pad.top + ph}" stroke="#888"/>`,
  );
  out.push("</svg>");
  return out.join("");
}

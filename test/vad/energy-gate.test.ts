import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { EnergyGate, type GateFrame } from "../../agent/src/vad/index.js";
import { mixAt, SR, voicedBurst, whiteNoise } from "./signals.js";

const F = 160;

function gate(x: Float32Array, options = {}): GateFrame[] {
  const g = new EnergyGate(options);
  const out: GateFrame[] = [];
  for (let i = 0; i + F <= x.length; i += F) out.push(g.process(x, i));
  return out;
}

/** [startSeconds, endSeconds) runs of open frames. */
function openRuns(frames: GateFrame[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let f = 0; f < frames.length; f++) {
    if (!frames[f].open) continue;
    let e = f;
    while (e < frames.length && frames[e].open) e++;
    runs.push([(f * F) / SR, (e * F) / SR]);
    f = e;
  }
  return runs;
}

function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: ${actual} not within ${tol} of ${expected}`,
  );
}

describe("EnergyGate", () => {
  it("stays closed on digital silence and on noise below minLevelDb", () => {
    assert.equal(openRuns(gate(new Float32Array(5 * SR))).length, 0);
    assert.equal(openRuns(gate(whiteNoise(5, -70))).length, 0);
    assert.equal(openRuns(gate(whiteNoise(5, -62))).length, 0);
  });

  it("closes on steady noise once it has learnt the floor", () => {
    for (const db of [-50, -35, -20]) {
      const frames = gate(whiteNoise(8, db, 5));
      // During the first floor window the gate assumes a quiet room; after that, closed.
      const late = frames.slice((2.5 * SR) / F);
      assert.equal(late.filter((f) => f.open).length, 0, `noise at ${db} dBFS`);
      near(frames.at(-1)?.floorDb ?? 0, db, 2, "floor");
    }
  });

  it("opens on voiced bursts over a quiet floor and closes holdMs after each", () => {
    const x = whiteNoise(10, -70, 2);
    const bursts: [number, number][] = [
      [1.0, 1.6],
      [3.0, 3.25],
      [5.5, 7.5],
    ];
    for (const [a, b] of bursts) mixAt(x, voicedBurst(b - a, -32, 130, a * 10), a);
    const runs = openRuns(gate(x, { holdMs: 300 }));
    assert.equal(runs.length, 3, JSON.stringify(runs));
    runs.forEach(([start, end], k) => {
      near(start, bursts[k][0], 0.02, `burst ${k} onset`);
      // The 20 ms fade-out is below the margin for a frame or two.
      near(end, bursts[k][1] + 0.3, 0.03, `burst ${k} close`);
    });
  });

  it("opens on bursts 15 dB above steady noise, and only on them", () => {
    const x = whiteNoise(12, -45, 3);
    const bursts: [number, number][] = [
      [4.0, 5.0],
      [8.0, 9.5],
    ];
    for (const [a, b] of bursts) mixAt(x, voicedBurst(b - a, -30, 200, a), a);
    const runs = openRuns(gate(x, { holdMs: 200 })).filter(([s]) => s > 2.5);
    assert.equal(runs.length, 2, JSON.stringify(runs));
    runs.forEach(([start, end], k) => {
      near(start, bursts[k][0], 0.05, `burst ${k} onset`);
      near(end, bursts[k][1] + 0.2, 0.1, `burst ${k} close`);
    });
  });

  it("follows a noise that gets louder within the floor window, and quieter at once", () => {
    const x = whiteNoise(12, -65, 4);
    const loud = whiteNoise(4, -40, 5);
    mixAt(x, loud, 4);
    const frames = gate(x, { holdMs: 300, floorWindowMs: 2000 });
    const runs = openRuns(frames).filter(([s]) => s > 2.5);
    assert.equal(runs.length, 1);
    near(runs[0][0], 4, 0.02, "opens at the step");
    assert.ok(runs[0][1] <= 4 + 2 + 0.1 + 0.3 + 0.02, `closes by ${runs[0][1]}`);
    near(frames[(7.5 * SR) / F].floorDb, -40, 2, "floor in the loud part");
    // Back to -65 dBFS at 8 s: the floor drops at once, no opening.
    near(frames[(8.2 * SR) / F].floorDb, -65, 2, "floor after");
  });

  it("ignores rumble below the high-pass", () => {
    // Steady -50 dBFS hiss plus a 30 Hz rumble swelling between -45 and -30 dBFS twice a second.
    const x = whiteNoise(8, -50, 6);
    for (let i = 0; i < x.length; i++) {
      const t = i / SR;
      const db = -37.5 + 7.5 * Math.sin(2 * Math.PI * 2 * t);
      x[i] += Math.SQRT2 * 10 ** (db / 20) * Math.sin(2 * Math.PI * 30 * t);
    }
    const openShare = (frames: GateFrame[]) => {
      const late = frames.slice((2.5 * SR) / F);
      return late.filter((f) => f.open).length / late.length;
    };
    assert.equal(openShare(gate(x)), 0);
    assert.ok(openShare(gate(x, { highPassHz: 0 })) > 0.5);
  });

  it("reset forgets the floor and the filter", () => {
    const g = new EnergyGate();
    const x = whiteNoise(3, -30, 7);
    for (let i = 0; i + F <= x.length; i += F) g.process(x, i);
    g.reset();
    assert.equal(g.floorDb, -90);
    assert.equal(g.isOpen, false);
    assert.ok(g.process(x, 0).open); // a quiet room assumed again
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { HalfbandDecimator } from "../../agent/src/vad/halfband.js";
import { rng, SR } from "./signals.js";

/** RMS level in dB of a tone at `hz` after decimation (steady state, edges skipped). */
function levelDb(hz: number): number {
  const n = SR;
  const x = Float32Array.from({ length: n }, (_, i) => Math.sin((2 * Math.PI * hz * i) / SR));
  const y = new HalfbandDecimator().process(x, new Float32Array(n / 2));
  let sum = 0;
  for (let i = 100; i < y.length - 100; i++) sum += y[i] * y[i];
  return 10 * Math.log10(sum / (y.length - 200) / 0.5);
}

describe("HalfbandDecimator (16 -> 8 kHz for Silero's 8 kHz branch)", () => {
  it("passes speech frequencies and stops what would alias", () => {
    for (const hz of [100, 1000, 2500]) {
      const db = levelDb(hz);
      assert.ok(Math.abs(db) < 0.1, `${hz} Hz: ${db.toFixed(3)} dB`);
    }
    assert.ok(levelDb(3000) > -1, `3 kHz: ${levelDb(3000).toFixed(2)} dB`);
    // Above 5 kHz everything would fold back into the 8 kHz band's speech range.
    for (const hz of [5500, 6000, 7000, 7900]) {
      const db = levelDb(hz);
      assert.ok(db < -40, `${hz} Hz: ${db.toFixed(1)} dB`);
    }
  });

  it("streams: blocks of any even length give what one long block gives", () => {
    const r = rng(3);
    const x = Float32Array.from({ length: 4096 }, () => r() - 0.5);
    const whole = new HalfbandDecimator().process(x, new Float32Array(2048));
    const d = new HalfbandDecimator();
    const parts: number[] = [];
    for (let i = 0; i < x.length; ) {
      const n = Math.min(x.length - i, 2 * (1 + Math.floor(r() * 300)));
      parts.push(...d.process(x.subarray(i, i + n), new Float32Array(n / 2)));
      i += n;
    }
    assert.equal(parts.length, whole.length);
    const worst = Math.max(...parts.map((v, i) => Math.abs(v - whole[i])));
    assert.ok(worst < 1e-6, `blockwise differs by ${worst}`);
    d.reset();
    const again = d.process(x.subarray(0, 512), new Float32Array(256));
    assert.deepEqual(again, whole.subarray(0, 256));
  });

  it("refuses odd blocks and tap counts that are not half-band", () => {
    assert.throws(() => new HalfbandDecimator().process(new Float32Array(3), new Float32Array(2)));
    assert.throws(() => new HalfbandDecimator(29), RangeError);
    assert.throws(() => new HalfbandDecimator(8), RangeError);
  });
});

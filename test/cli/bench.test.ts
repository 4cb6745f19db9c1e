// `ser-agent bench` from the sources, in this process: the figures a board owner reads, and the
// mistakes it explains. (test/deploy/package.test.ts runs it from the unpacked package.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { DeviceBench } from "../../agent/src/bench/device.js";
import { quantile, quietRoom, repeatTo, trimToSpeech } from "../../agent/src/bench/signals.js";
import { main } from "../../agent/src/cli.js";

const DEMO = fileURLToPath(new URL("../../demo/", import.meta.url));
const CLIP = `${DEMO}03-01-04-02-01-01-20.flac`;

async function run(argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("ser-agent bench", () => {
  it("--quick --json: every figure present, positive and finite; silence heard as silence", async () => {
    const r = await run(["bench", "--quick", "--json", "--clips", CLIP, "--runs", "7"]);
    assert.equal(r.code, 0, r.err);
    const b = JSON.parse(r.out) as DeviceBench;
    assert.match(b.model.dir, /models[/\\]default$/);
    const figures = {
      silence: b.silence.cpu_ms_per_audio_s,
      speech: b.speech.cpu_ms_per_audio_s,
      p50: b.inference.p50_ms,
      p95: b.inference.p95_ms,
      rss: b.rss_mb.peak,
      took: b.took_s,
    };
    for (const [k, v] of Object.entries(figures))
      assert.ok(Number.isFinite(v) && v > 0, `${k}=${v}`);
    assert.equal(b.inference.runs, 7);
    assert.equal(b.speech.audio_s, 10);
    assert.equal(b.silence.events, 0);
    assert.ok(b.speech.events >= 1);
    assert.ok(b.speech.cpu_ms_per_audio_s > b.silence.cpu_ms_per_audio_s);
    assert.match(r.err, /bench: silence/);
  });

  it("prints a table by default", async () => {
    const r = await run(["bench", "--seconds", "3", "--runs", "2", "--clips", CLIP]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /CPU, silence .* ms per audio-s = .*% of one core/);
    assert.match(r.out, /inference \(features \+ model\) +p50 [\d.]+ ms, p95 [\d.]+ ms/);
    assert.match(r.out, /RSS .* peak [\d.]+ MiB/);
  });

  it("explains bad options and missing clips", async () => {
    const short = await run(["bench", "--seconds", "1"]);
    assert.equal(short.code, 2);
    assert.match(short.err, /--seconds must be at least 3/);
    const missing = await run(["bench", "--quick", "--clips", "/nonexistent/clips"]);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /no speech clips at \/nonexistent\/clips; pass --clips DIR/);
    const stray = await run(["bench", CLIP]);
    assert.equal(stray.code, 2);
    assert.match(stray.err, /speech clips go after --clips/);
  });

  it("signals: quiet room at its level, speech trimmed, repetition exact, nearest-rank quantile", () => {
    const q = quietRoom(160000);
    const rms = Math.sqrt(q.reduce((s, x) => s + x * x, 0) / q.length);
    assert.ok(
      Math.abs(20 * Math.log10(rms) + 70) < 0.2,
      `quiet room at ${20 * Math.log10(rms)} dBFS`,
    );
    const tone = new Float32Array(3200).map((_, i) => (i >= 800 && i < 2400 ? Math.sin(i / 5) : 0));
    assert.equal(trimToSpeech(tone).length, 1600);
    const r = repeatTo([new Float32Array([1, 2]), new Float32Array([3])], 7);
    assert.deepEqual([...r], [1, 2, 3, 1, 2, 3, 1]);
    assert.equal(quantile([5, 1, 4, 2, 3], 0.5), 3);
    assert.equal(quantile([5, 1, 4, 2, 3], 0.95), 5);
    assert.ok(Number.isNaN(quantile([], 0.5)));
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  type EmotionEvent,
  formatEvent,
  InferenceQueue,
  PlaylistSource,
  SampleClock,
} from "../../agent/src/runtime/index.js";
import { DEMO_CLIPS } from "./bundle.js";

/** A queue whose worker takes `ms` per item and records what it processed. */
function slowQueue(capacity: number, ms: number) {
  const processed: number[] = [];
  const dropped: number[] = [];
  let running = 0;
  let maxRunning = 0;
  const queue = new InferenceQueue<number>({
    capacity,
    run: async (n) => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(ms);
      running--;
      if (n < 0) throw new Error(`bad item ${n}`);
      processed.push(n);
    },
    onDrop: (n) => dropped.push(n),
  });
  return { queue, processed, dropped, maxRunning: () => maxRunning };
}

describe("InferenceQueue", () => {
  it("drops the oldest waiting item when inference falls behind, and counts it", async () => {
    const q = slowQueue(2, 40);
    // 0 starts at once; 1 and 2 wait; each later push pushes the oldest waiting one out.
    const out = [0, 1, 2, 3, 4, 5].map((n) => q.queue.push(n));
    assert.deepEqual(out, [undefined, undefined, undefined, 1, 2, 3]);
    assert.equal(q.queue.depth, 2);
    assert.ok(q.queue.busy);
    assert.equal(await q.queue.drain(2000), true);
    assert.deepEqual(q.processed, [0, 4, 5], "the newest speech is kept, in order");
    assert.deepEqual(q.dropped, [1, 2, 3]);
    assert.equal(q.maxRunning(), 1, "one inference at a time (one session)");
    assert.deepEqual(q.queue.stats(), {
      depth: 0,
      busy: false,
      pushed: 6,
      processed: 3,
      failed: 0,
      dropped: 3,
    });
  });

  it("lets a producer that can wait wait for room instead (nothing dropped)", async () => {
    const q = slowQueue(1, 10);
    for (let n = 0; n < 6; n++) {
      await q.queue.waitForRoom();
      assert.equal(q.queue.push(n), undefined);
    }
    await q.queue.drain();
    assert.deepEqual(q.processed, [0, 1, 2, 3, 4, 5]);
    assert.equal(q.queue.stats().dropped, 0);
  });

  it("goes on after a failed item, drains with a timeout, and close() abandons the waiting", async () => {
    const errors: unknown[] = [];
    const processed: number[] = [];
    const queue = new InferenceQueue<number>({
      capacity: 10,
      run: async (n) => {
        await sleep(30);
        if (n === 1) throw new Error("model failed");
        processed.push(n);
      },
      onError: (e) => errors.push(e),
    });
    for (const n of [0, 1, 2, 3, 4]) queue.push(n);
    assert.equal(await queue.drain(10), false, "not drained within 10 ms");
    await sleep(100); // 0, 1 and 2 done or running
    const abandoned = queue.close();
    assert.ok(abandoned.length >= 1 && abandoned.length <= 2, `abandoned ${abandoned}`);
    assert.throws(() => queue.push(9), /closed/);
    assert.equal(await queue.drain(500), true);
    assert.equal(errors.length, 1);
    assert.deepEqual(processed, [0, 2, 3, 4].slice(0, processed.length));
    const s = queue.stats();
    assert.equal(s.failed, 1);
    assert.equal(s.dropped, abandoned.length);
    assert.equal(s.processed + s.dropped, 5);
    assert.throws(() => new InferenceQueue({ capacity: 0, run: async () => {} }), RangeError);
  });
});

describe("SampleClock", () => {
  it("follows the chunks' clock, re-anchors where it jumps, and forgets old anchors", () => {
    const clock = new SampleClock(32000);
    clock.note(1_000_000, 320);
    clock.note(1_000_020, 320); // contiguous: no new anchor
    assert.equal(clock.timeOf(0), 1_000_000);
    assert.equal(clock.timeOf(160), 1_000_010);
    assert.equal(clock.timeOf(640), 1_000_040);
    // A microphone restart: the next chunk's clock is 5 s later.
    clock.note(1_005_000, 320);
    assert.equal(clock.timeOf(639), 1_000_000 + 639 / 16);
    assert.equal(clock.timeOf(640), 1_005_000);
    assert.equal(clock.timeOf(800), 1_005_010);
    for (let i = 0; i < 200; i++) clock.note(1_005_020 + i * 20, 320);
    // Samples far behind the kept span are extrapolated from the newest anchor before them.
    assert.equal(clock.timeOf(640 + 320 * 100), 1_005_000 + 2000);
    assert.equal(clock.position, 320 * 203);
  });
});

describe("formatEvent", () => {
  it("prints time, label, confidence, duration, window and file", () => {
    const event: EmotionEvent = {
      device: "pi",
      start: new Date(2025, 0, 1, 12, 1, 3, 120).toISOString(),
      end: new Date(2025, 0, 1, 12, 1, 4, 960).toISOString(),
      duration_ms: 1840,
      label: "angry",
      confidence: 0.9271,
      scores: { angry: 0.9271, sad: 0.0729 },
      model: { name: "m", version: "1" },
    };
    assert.equal(
      formatEvent(event, 7, "demo/03-01-05-02-02-01-19.flac"),
      "12:01:03.120  angry    0.93  (1.84 s)  demo/03-01-05-02-02-01-19.flac",
    );
    assert.equal(
      formatEvent({ ...event, window: { index: 1, of: 3 } }, 5),
      "12:01:03.120  angry  0.93  (1.84 s)  [window 2/3]",
    );
  });
});

describe("PlaylistSource", () => {
  it("plays files one after the other with silence between, and knows which is which", async () => {
    const source = new PlaylistSource(DEMO_CLIPS.slice(0, 2), { fast: true, gapMs: 1000 });
    const chunks: { start: number; time: number; peak: number }[] = [];
    for await (const c of source) {
      let peak = 0;
      for (const v of c.samples) peak = Math.max(peak, Math.abs(v));
      chunks.push({ start: c.startSample, time: c.timeMs, peak });
    }
    const [a, b] = source.entries;
    assert.equal(a.startSample, 0);
    assert.equal(b.startSample, a.endSample + 16000);
    const last = chunks.at(-1);
    assert.ok(last && last.start < b.endSample && b.endSample - last.start <= 320, "ends with b");
    const gap = chunks.filter(
      (c) => c.start >= a.endSample + 320 && c.start + 320 <= b.startSample,
    );
    assert.ok(gap.length >= 45 && gap.every((c) => c.peak === 0), "digital silence between");
    const t0 = chunks[0].time;
    const mid = (e: typeof a) => t0 + ((e.startSample + e.endSample) / 2 / 16000) * 1000;
    assert.equal(source.fileAt(mid(a)), DEMO_CLIPS[0]);
    assert.equal(source.fileAt(mid(b)), DEMO_CLIPS[1]);
    assert.equal(source.fileAt(t0 + ((a.endSample + 8000) / 16000) * 1000), undefined);
    assert.equal(source.fileFor(mid(a), mid(b) + 10_000), DEMO_CLIPS[1]);
  });
});

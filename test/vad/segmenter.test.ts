import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Segmenter, type SegmenterOptions, type Utterance } from "../../agent/src/vad/index.js";

const F = 160; // 10 ms frames

/** Sample i of the stream has value (i % 10007) / 10007, so any slice can be checked exactly. */
const valueAt = (i: number) => (i % 10007) / 10007;

function expectedSlice(start: number, end: number): Float32Array {
  return Float32Array.from({ length: end - start }, (_, k) => valueAt(start + k));
}

/**
 * Runs frames through a segmenter. `speech` is a list of [firstFrame, endFrame) ranges; the
 * stream is `frames` frames long, starting at frame `from`. Flushes at the end.
 */
function run(
  options: Partial<SegmenterOptions>,
  speech: [number, number][],
  frames: number,
  from = 0,
  seg = new Segmenter(options),
): Utterance[] {
  const out: Utterance[] = [];
  for (let f = from; f < from + frames; f++) {
    const isSpeech = speech.some(([a, b]) => f >= a && f < b);
    const samples = Float32Array.from({ length: F }, (_, k) => valueAt(f * F + k));
    out.push(...seg.push({ startSample: f * F, samples, speech: isSpeech }));
  }
  out.push(...seg.flush());
  return out;
}

const base: Partial<SegmenterOptions> = {
  preRollMs: 300,
  hangoverMs: 400,
  minSpeechMs: 250,
  maxUtteranceMs: 8000,
  windowOverlapMs: 1000,
};

function assertAudio(u: Utterance): void {
  assert.equal(u.samples.length, u.endSample - u.startSample);
  assert.deepEqual(u.samples, expectedSlice(u.startSample, u.endSample));
}

describe("Segmenter", () => {
  it("applies pre-roll and hangover exactly", () => {
    const [u, ...rest] = run(base, [[100, 150]], 400);
    assert.equal(rest.length, 0);
    assert.equal(u.startSample, (100 - 30) * F);
    assert.equal(u.endSample, (150 + 40) * F);
    assert.equal(u.speechStartSample, 100 * F);
    assert.equal(u.speechEndSample, 150 * F);
    assert.equal(u.end, "silence");
    assert.equal(u.window, undefined);
    assertAudio(u);
  });

  it("the utterance is emitted by the frame that completes the hangover", () => {
    const seg = new Segmenter(base);
    let emittedAt = -1;
    for (let f = 0; f < 300; f++) {
      const out = seg.push({
        startSample: f * F,
        samples: new Float32Array(F),
        speech: f >= 50 && f < 100,
      });
      if (out.length > 0) emittedAt = f;
    }
    assert.equal(emittedAt, 100 + 40 - 1);
  });

  it("pre-roll stops at the stream start and at the previous utterance", () => {
    const [a, b] = run(
      base,
      [
        [10, 60],
        [110, 160],
      ],
      300,
    );
    assert.equal(a.startSample, 0); // only 100 ms before the first speech frame
    assert.equal(a.endSample, 100 * F);
    assert.equal(b.startSample, 100 * F); // not 80: that audio belongs to the first utterance
    assert.equal(b.endSample, 200 * F);
    assertAudio(a);
    assertAudio(b);
    // A stream that does not start at sample 0.
    const [c] = run(base, [[1010, 1060]], 200, 1000);
    assert.equal(c.startSample, 1000 * F);
  });

  it("a pause shorter than the hangover does not split; one as long does", () => {
    const one = run(
      base,
      [
        [100, 150],
        [150 + 39, 250],
      ],
      500,
    );
    assert.equal(one.length, 1);
    assert.equal(one[0].startSample, 70 * F);
    assert.equal(one[0].endSample, 290 * F);
    const two = run(
      base,
      [
        [100, 150],
        [150 + 40, 250],
      ],
      500,
    );
    assert.equal(two.length, 2);
    assert.equal(two[0].endSample, 190 * F);
    assert.equal(two[1].startSample, 190 * F);
  });

  it("drops speech shorter than minSpeechMs, keeps speech exactly that long", () => {
    assert.equal(run(base, [[100, 124]], 300).length, 0);
    const kept = run(base, [[100, 125]], 300);
    assert.equal(kept.length, 1);
    assert.equal(kept[0].speechEndSample - kept[0].speechStartSample, 250 * 16);
    // Minimum speech counts from the first to the last speech frame, pauses included.
    assert.equal(
      run(
        base,
        [
          [100, 110],
          [130, 140],
        ],
        300,
      ).length,
      1,
    );
  });

  it("a dropped burst does not stop the next utterance's pre-roll", () => {
    const [u] = run(
      base,
      [
        [100, 110],
        [220, 300],
      ],
      500,
    );
    assert.equal(u.startSample, 190 * F);
  });

  it("cuts long speech into windows of maxUtteranceMs overlapping by windowOverlapMs", () => {
    // Speech from 1.0 s to 26.0 s; utterance from 0.7 s (pre-roll) to 26.4 s (hangover).
    const out = run(base, [[100, 2600]], 3000);
    const start = 70 * F;
    const end = 2640 * F;
    const max = 8000 * 16;
    const step = 7000 * 16;
    assert.deepEqual(
      out.map((u) => [u.startSample, u.endSample, u.window?.index, u.window?.of, u.end]),
      [
        [start, start + max, 0, undefined, "max-length"],
        [start + step, start + step + max, 1, undefined, "max-length"],
        [start + 2 * step, start + 2 * step + max, 2, undefined, "max-length"],
        [start + 3 * step, end, 3, 4, "silence"],
      ],
    );
    for (const u of out) assertAudio(u);
    // Consecutive windows share exactly the overlap.
    for (let k = 1; k < out.length; k++) {
      assert.equal(out[k - 1].endSample - out[k].startSample, 1000 * 16);
    }
  });

  it("emits each full window as soon as it is full", () => {
    const seg = new Segmenter({ ...base, maxUtteranceMs: 2000, windowOverlapMs: 500 });
    const at: number[] = [];
    for (let f = 0; f < 600; f++) {
      const out = seg.push({ startSample: f * F, samples: new Float32Array(F), speech: f >= 30 });
      for (const u of out) at.push(f, u.window?.index ?? -1);
    }
    // Utterance starts at frame 0 (pre-roll); windows end at frames 200, 350, 500.
    assert.deepEqual(at, [199, 0, 349, 1, 499, 2]);
    const last = seg.flush();
    assert.equal(last.length, 1);
    assert.deepEqual(last[0].window, { index: 3, of: 4 });
    assert.equal(last[0].end, "flush");
    assert.equal(last[0].startSample, 450 * F);
    assert.equal(last[0].endSample, 600 * F);
  });

  it("flush ends an open utterance at the last frame; a gap in the stream flushes", () => {
    const open = run(base, [[100, 1000]], 200);
    assert.equal(open.length, 1);
    assert.equal(open[0].end, "flush");
    assert.equal(open[0].endSample, 200 * F);

    const seg = new Segmenter(base);
    const out: Utterance[] = [];
    const push = (f: number, speech: boolean) =>
      out.push(...seg.push({ startSample: f * F, samples: new Float32Array(F), speech }));
    for (let f = 0; f < 100; f++) push(f, f >= 50);
    for (let f = 500; f < 520; f++) push(f, true); // 4 s later
    assert.equal(out.length, 1);
    assert.deepEqual(
      [out[0].startSample, out[0].endSample, out[0].end],
      [20 * F, 100 * F, "flush"],
    );
    assert.ok(seg.inUtterance);
    // After the gap, pre-roll cannot reach back before it.
    const rest = seg.flush();
    assert.equal(rest.length, 0); // 200 ms of speech < minSpeech
    for (let f = 520; f < 600; f++) push(f, f >= 530 && f < 570);
    out.push(...seg.flush());
    assert.equal(out[1].startSample, 520 * F);
  });

  it("works with zero pre-roll and zero hangover", () => {
    const [u] = run({ ...base, preRollMs: 0, hangoverMs: 0 }, [[100, 150]], 300);
    assert.deepEqual([u.startSample, u.endSample], [100 * F, 150 * F]);
    assertAudio(u);
  });

  it("rounds durations to whole frames and checks its options", () => {
    const seg = new Segmenter({ ...base, preRollMs: 304, hangoverMs: 396 });
    assert.equal(seg.resolved.preRoll, 30 * F);
    assert.equal(seg.resolved.hangover, 40 * F);
    assert.throws(() => new Segmenter({ ...base, windowOverlapMs: 8000 }), RangeError);
    assert.throws(() => new Segmenter({ ...base, maxUtteranceMs: 900 }), /maxUtteranceMs/);
    assert.throws(() => new Segmenter({ ...base, hangoverMs: -1 }), RangeError);
    assert.throws(
      () =>
        new Segmenter(base).push({ startSample: 0, samples: new Float32Array(100), speech: true }),
      /frames must be 160/,
    );
  });
});

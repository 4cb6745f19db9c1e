import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { after, before, describe, it } from "node:test";
import { AudioError, encodeWav } from "../../agent/src/audio/index.js";
import {
  type AudioChunk,
  type CaptureError,
  encodeS16le,
  FileSource,
  openAudioSource,
  S16leDecoder,
  StdinSource,
} from "../../agent/src/capture/index.js";

const SR = 16000;
let dir = "";
let wavPath = "";
/** 0.5 s ramp-ish signal, exact multiples of 1/32768 so WAV round-trips bit for bit. */
const signal = new Float32Array(SR / 2).map((_, i) => (((i * 37) % 2001) - 1000) / 32768);

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ser-capture-"));
  wavPath = join(dir, "half-second.wav");
  await writeFile(wavPath, encodeWav(signal, SR));
});
after(() => rm(dir, { recursive: true, force: true }));

function concat(chunks: AudioChunk[]): Float32Array {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.samples.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c.samples, at);
    at += c.samples.length;
  }
  return out;
}

function assertContiguous(chunks: AudioChunk[]): void {
  let next = 0;
  for (const c of chunks) {
    assert.equal(c.startSample, next);
    next += c.samples.length;
  }
}

describe("FileSource", () => {
  it("plays in real time, chunk by chunk, paced by the wall clock", async () => {
    const src = new FileSource(wavPath, { chunkMs: 50 });
    const arrivals: number[] = [];
    const chunks: AudioChunk[] = [];
    const ended = new Promise<string>((resolve) => src.once("end", resolve));
    src.on("data", (c) => {
      chunks.push(c);
      arrivals.push(performance.now());
    });
    await src.start();
    const t0 = performance.now();
    assert.equal(await ended, "eof");
    const took = performance.now() - t0;
    assert.equal(chunks.length, 10);
    assert.deepEqual(concat(chunks), signal);
    assertContiguous(chunks);
    // 500 ms of audio takes about 500 ms; chunk k arrives when its end "has been recorded".
    assert.ok(took >= 480 && took < 900, `took ${took.toFixed(0)} ms`);
    for (let k = 0; k < chunks.length; k++) {
      const due = (k + 1) * 50;
      assert.ok(arrivals[k] - t0 >= due - 5, `chunk ${k} came at ${arrivals[k] - t0} ms`);
    }
    // timeMs advances by media time.
    assert.equal(chunks[3].timeMs - chunks[0].timeMs, 150);
  });

  it("fast mode delivers everything at once, as an async iterable", async () => {
    const t0 = performance.now();
    const chunks: AudioChunk[] = [];
    for await (const c of new FileSource(wavPath, { fast: true })) chunks.push(c);
    assert.ok(performance.now() - t0 < 400);
    assert.equal(chunks.length, 25); // 20 ms chunks
    assert.deepEqual(concat(chunks), signal);
    assertContiguous(chunks);
  });

  it("pauses a fast file while the iterator's queue is full (no drops)", async () => {
    const src = new FileSource(wavPath, { fast: true, chunkMs: 10, maxQueuedChunks: 4 });
    const chunks: AudioChunk[] = [];
    for await (const c of src) {
      chunks.push(c);
      await new Promise((r) => setTimeout(r, 1));
    }
    assert.equal(src.samplesDropped, 0);
    assert.deepEqual(concat(chunks), signal);
  });

  it("stop() ends playback; breaking out of the loop stops the source", async () => {
    const src = new FileSource(wavPath, { chunkMs: 20 });
    let n = 0;
    for await (const _ of src) {
      if (++n === 3) break;
    }
    assert.equal(src.state, "ended");
    const delivered = src.samplesDelivered;
    await new Promise((r) => setTimeout(r, 80));
    assert.equal(src.samplesDelivered, delivered);
  });

  it("rejects start() with the AudioError of an unreadable file", async () => {
    const src = new FileSource(join(dir, "missing.wav"));
    const ends: string[] = [];
    src.on("end", (r) => ends.push(r));
    await assert.rejects(
      src.start(),
      (e: unknown) => e instanceof AudioError && e.code === "NOT_FOUND",
    );
    assert.deepEqual(ends, ["error"]);
    await assert.rejects(async () => {
      for await (const _ of new FileSource(join(dir, "missing.wav"))) {
        // nothing
      }
    }, AudioError);
  });
});

describe("StdinSource", () => {
  it("decodes raw S16_LE split at odd byte boundaries", async () => {
    const stream = new PassThrough();
    const src = new StdinSource(stream);
    const chunks: AudioChunk[] = [];
    src.on("data", (c) => chunks.push(c));
    const ended = new Promise<string>((resolve) => src.once("end", resolve));
    await src.start();
    const bytes = encodeS16le(signal);
    // Pieces of 1, 3, 7, ... bytes: samples straddle the pieces.
    for (let at = 0, k = 1; at < bytes.length; at += k, k = (k * 2 + 1) % 997) {
      stream.write(bytes.subarray(at, at + k));
    }
    stream.end();
    assert.equal(await ended, "eof");
    assert.deepEqual(concat(chunks), signal);
    assertContiguous(chunks);
  });

  it("works as an async iterable, reports a half sample at the end", async () => {
    const stream = new PassThrough();
    const src = openAudioSource("-", {});
    assert.equal(src.kind, "stdin");
    const own = new StdinSource(stream, { name: "pipe" });
    const errors: CaptureError[] = [];
    own.on("error", (e) => errors.push(e));
    setImmediate(() => {
      stream.write(Buffer.from([0x00, 0x40, 0x00, 0xc0, 0x01]));
      stream.end();
    });
    const got: number[] = [];
    for await (const c of own) got.push(...c.samples);
    assert.deepEqual(got, [0.5, -0.5]);
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, "TRUNCATED_SAMPLE");
    assert.match(errors[0].message, /^pipe: /);
  });

  it("a stream error ends the source with reason error, and the iterator throws it", async () => {
    const stream = new PassThrough();
    const src = new StdinSource(stream);
    setImmediate(() => {
      stream.write(Buffer.alloc(320));
      stream.destroy(new Error("EPIPE-ish"));
    });
    let n = 0;
    await assert.rejects(
      async () => {
        for await (const c of src) n += c.samples.length;
      },
      (e: unknown) => (e as CaptureError).code === "STREAM_FAILED",
    );
    assert.equal(n, 160);
    assert.equal(src.state, "ended");
  });

  it("pauses the stream while the iterator's queue is full", async () => {
    const stream = new PassThrough({ highWaterMark: 64 });
    const src = new StdinSource(stream, { maxQueuedChunks: 2 });
    const bytes = encodeS16le(signal);
    void writeInPieces(stream, bytes, 64);
    const got: AudioChunk[] = [];
    let pauses = 0;
    stream.on("pause", () => pauses++);
    for await (const c of src) {
      got.push(c);
      await new Promise((r) => setTimeout(r, 0));
    }
    assert.ok(pauses > 0);
    assert.deepEqual(concat(got), signal);
  });

  it("bounds the queue by audio duration too: big stdin chunks pause it before the chunk limit", async () => {
    const stream = new PassThrough({ highWaterMark: 64 });
    // 0.1 s may be queued; each write below is 0.05 s (1600 bytes), far under 256 chunks.
    const src = new StdinSource(stream, { maxQueuedSeconds: 0.1 });
    const bytes = encodeS16le(signal);
    void writeInPieces(stream, bytes, 1600);
    let pauses = 0;
    stream.on("pause", () => pauses++);
    const got: AudioChunk[] = [];
    let held = 0;
    const iterator = src[Symbol.asyncIterator]();
    // Let the writer run ahead of a consumer that has not started reading.
    const first = await iterator.next();
    await new Promise((r) => setTimeout(r, 50));
    if (!first.done) got.push(first.value);
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      got.push(next.value);
      held = Math.max(held, src.samplesDelivered - concat(got).length);
    }
    assert.ok(pauses > 0, "the stream was paused");
    assert.ok(held <= 0.1 * 16000 + 1600, `at most ~0.1 s queued, saw ${held} samples`);
    assert.equal(src.samplesDropped, 0);
    assert.deepEqual(concat(got), signal);
  });
});

/** Writes `bytes` to the stream `step` bytes at a time, honouring back-pressure, then ends it. */
async function writeInPieces(stream: PassThrough, bytes: Uint8Array, step: number) {
  for (let at = 0; at < bytes.length; at += step) {
    if (!stream.write(bytes.subarray(at, at + step))) {
      await new Promise((r) => stream.once("drain", r));
    }
  }
  stream.end();
}

describe("S16leDecoder", () => {
  it("gives int16 / 32768", () => {
    const d = new S16leDecoder();
    assert.deepEqual(
      [...d.push(new Uint8Array([0xff, 0x7f, 0x00, 0x80, 0xff]))],
      [32767 / 32768, -1],
    );
    assert.equal(d.pendingBytes, 1);
    assert.deepEqual([...d.push(new Uint8Array([0xff]))], [-1 / 32768]);
  });
});

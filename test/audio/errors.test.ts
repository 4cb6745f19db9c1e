import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AudioError, type AudioErrorCode, readAudioFile } from "@ser-edge/agent/audio";
import { chunk, fmtChunk, riff, samplesToBytes } from "../fixtures/audio-gen/wav-builder.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ser-audio-err-"));
});
after(() => rm(dir, { recursive: true, force: true }));

/** Write bytes to a temp file and expect readAudioFile to fail with `code`, naming the file. */
async function expectError(
  name: string,
  bytes: Uint8Array | null,
  codes: AudioErrorCode | AudioErrorCode[],
  pattern?: RegExp,
): Promise<void> {
  const path = join(dir, name);
  if (bytes) await writeFile(path, bytes);
  const err = await readAudioFile(path).then(
    () => assert.fail(`${name} decoded without error`),
    (e: unknown) => e,
  );
  assert.ok(err instanceof AudioError, `expected AudioError, got ${err}`);
  assert.ok(([] as string[]).concat(codes).includes(err.code), `${err.code}: ${err.message}`);
  assert.equal(err.path, path);
  assert.ok(err.message.startsWith(`${path}: `), err.message);
  if (pattern) assert.match(err.message, pattern);
}

const pcm16Fmt = fmtChunk({ formatTag: 1, channels: 1, sampleRate: 16000, bitsPerSample: 16 });
const someData = chunk("data", samplesToBytes([[1, 2, 3, 4]], "s16"));

/** Deterministic pseudo-random bytes (xorshift32), so failures are reproducible. */
function randomBytes(n: number, seed: number): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

describe("file system errors", () => {
  it("missing path", () => expectError("nope.wav", null, "NOT_FOUND", /not found/));

  it("a directory", async () => {
    await mkdir(join(dir, "folder.wav"));
    await expectError("folder.wav", null, "IS_DIRECTORY", /directory/);
  });

  it("empty file", () => expectError("empty.wav", new Uint8Array(0), "EMPTY", /empty/));
});

describe("WAV errors", () => {
  it("truncated header (RIFF only)", () =>
    expectError("short.wav", new TextEncoder().encode("RIFF\x10\0\0"), "TRUNCATED_HEADER"));

  it("truncated header (cut inside fmt)", () =>
    expectError("cut.wav", riff([pcm16Fmt, someData]).subarray(0, 30), "TRUNCATED_HEADER"));

  it("no data chunk", () =>
    expectError("nodata.wav", riff([pcm16Fmt]), "TRUNCATED_HEADER", /data/));

  it("data chunk longer than the file", () =>
    expectError(
      "overrun.wav",
      riff([pcm16Fmt, chunk("data", samplesToBytes([[1, 2, 3, 4]], "s16"), 200000)]),
      "DATA_OVERRUN",
      /declares 200000 bytes but only 8 remain .*re-export or re-record/,
    ));

  it("MP3-in-WAV and ADPCM codecs", async () => {
    const mp3 = fmtChunk({ formatTag: 0x55, channels: 1, sampleRate: 16000, bitsPerSample: 16 });
    await expectError("mp3.wav", riff([mp3, someData]), "UNSUPPORTED_CODEC", /MP3.*0x0055/);
    const adpcm = fmtChunk({ formatTag: 2, channels: 1, sampleRate: 16000, bitsPerSample: 4 });
    await expectError("adpcm.wav", riff([adpcm, someData]), "UNSUPPORTED_CODEC", /ADPCM/);
  });

  it("NaN and Inf samples in a float WAV", async () => {
    const fmt = fmtChunk({ formatTag: 3, channels: 1, sampleRate: 16000, bitsPerSample: 32 });
    const nan = chunk("data", samplesToBytes([[0, 0.5, Number.NaN]], "f32"));
    await expectError("nan.wav", riff([fmt, nan]), "NON_FINITE", /sample 2 .* NaN/);
    const inf = chunk("data", samplesToBytes([[Number.NEGATIVE_INFINITY]], "f32"));
    await expectError("inf.wav", riff([fmt, inf]), "NON_FINITE", /-Infinity/);
  });

  it("impossible formats: 12-bit, 0 channels, 0 Hz, data before fmt", async () => {
    const b12 = fmtChunk({
      formatTag: 1,
      channels: 1,
      sampleRate: 16000,
      bitsPerSample: 12,
      blockAlign: 2,
    });
    await expectError("b12.wav", riff([b12, someData]), "BAD_FORMAT", /12 bits/);
    const ch0 = fmtChunk({ formatTag: 1, channels: 0, sampleRate: 16000, bitsPerSample: 16 });
    await expectError("ch0.wav", riff([ch0, someData]), "BAD_FORMAT", /0 channels/);
    const hz0 = fmtChunk({ formatTag: 1, channels: 1, sampleRate: 0, bitsPerSample: 16 });
    await expectError("hz0.wav", riff([hz0, someData]), "BAD_FORMAT", /0 Hz/);
    await expectError("order.wav", riff([someData, pcm16Fmt]), "BAD_FORMAT", /before the fmt/);
  });

  it("a data chunk with no samples", () =>
    expectError("nosamples.wav", riff([pcm16Fmt, chunk("data", new Uint8Array(0))]), "EMPTY"));
});

describe("other formats", () => {
  it("truncated FLAC is an error, not silently short audio", async () => {
    const flac = await readFile(
      new URL("../fixtures/audio/03-01-01-01-01-01-01.flac", import.meta.url),
    );
    const half = new Uint8Array(flac.subarray(0, flac.length >> 1));
    await expectError("half.flac", half, "CORRUPT", /of 52853 samples/);
    await expectError("stub.flac", half.subarray(0, 20), "TRUNCATED_HEADER");
  });

  it("FLAC header followed by garbage", async () => {
    const flac = await readFile(
      new URL("../fixtures/audio/03-01-01-01-01-01-01.flac", import.meta.url),
    );
    const bad = new Uint8Array(flac);
    bad.set(randomBytes(bad.length - 42, 7), 42);
    await expectError("garbage.flac", bad, "CORRUPT");
  });

  it("random bytes are rejected", async () => {
    for (const seed of [1, 2, 3]) {
      await expectError(
        `random${seed}.wav`,
        randomBytes(4096, seed),
        "UNSUPPORTED_CODEC",
        /ffmpeg/,
      );
    }
  });

  it("an MPEG frame header followed by garbage", async () => {
    const bytes = randomBytes(8192, 11);
    bytes.set([0xff, 0xfb, 0x90, 0x64]); // MPEG-1 layer III, 128 kb/s, 44.1 kHz
    await expectError("garbage.mp3", bytes, "CORRUPT", /MP3/);
  });

  it("known but unsupported containers are named", async () => {
    const ogg = new Uint8Array(64);
    ogg.set(new TextEncoder().encode("OggS"));
    await expectError("clip.ogg", ogg, "UNSUPPORTED_CODEC", /Ogg/);
  });
});

import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeAudio, decodeWav, encodeWav, mixToMono } from "@ser-edge/agent/audio";
import { chunk, fmtChunk, riff, samplesToBytes } from "../fixtures/audio-gen/wav-builder.js";

const PCM = 1;
const FLOAT = 3;

function wav(
  formatTag: number,
  bits: number,
  channels: number[][],
  kind: Parameters<typeof samplesToBytes>[1],
  extensibleSubFormat?: number,
): Uint8Array {
  const fmt = fmtChunk({
    formatTag,
    channels: channels.length,
    sampleRate: 8000,
    bitsPerSample: bits,
    extensibleSubFormat,
  });
  return riff([fmt, chunk("data", samplesToBytes(channels, kind))]);
}

describe("decodeWav sample formats", () => {
  it("8-bit PCM is unsigned with 128 as zero", () => {
    const r = decodeWav(wav(PCM, 8, [[0, 128, 255, 64]], "u8"), "a.wav");
    assert.deepEqual([...r.channelData[0]], [-1, 0, 127 / 128, -0.5]);
    assert.equal(r.bitDepth, 8);
  });

  it("16-bit PCM divides by 32768 exactly", () => {
    const ints = [-32768, -1, 0, 1, 12345, 32767];
    const r = decodeWav(wav(PCM, 16, [ints], "s16"), "a.wav");
    assert.deepEqual(
      [...r.channelData[0]],
      ints.map((v) => Math.fround(v / 32768)),
    );
    assert.equal(r.channelData[0][0], -1);
  });

  it("24-bit PCM divides by 2^23 and sign-extends", () => {
    const ints = [-8388608, -2, 0, 3, 4194304, 8388607];
    const r = decodeWav(wav(PCM, 24, [ints], "s24"), "a.wav");
    assert.deepEqual(
      [...r.channelData[0]],
      ints.map((v) => Math.fround(v / 8388608)),
    );
  });

  it("32-bit PCM divides by 2^31", () => {
    const ints = [-2147483648, -65536, 0, 1 << 30, 2147483647];
    const r = decodeWav(wav(PCM, 32, [ints], "s32"), "a.wav");
    assert.deepEqual(
      [...r.channelData[0]],
      ints.map((v) => Math.fround(v / 2147483648)),
    );
  });

  it("float32 and float64 pass values through", () => {
    const vals = [-1, -0.25, 0, 0.123456789, 1.5];
    const f32 = decodeWav(wav(FLOAT, 32, [vals], "f32"), "a.wav");
    assert.deepEqual([...f32.channelData[0]], vals.map(Math.fround));
    const f64 = decodeWav(wav(FLOAT, 64, [vals], "f64"), "a.wav");
    assert.deepEqual([...f64.channelData[0]], vals.map(Math.fround));
    assert.equal(f64.bitDepth, 64);
  });

  it("WAVE_FORMAT_EXTENSIBLE with PCM and float sub-format GUIDs", () => {
    const pcm = decodeWav(
      wav(
        PCM,
        24,
        [
          [-8388608, 0],
          [4194304, 1],
        ],
        "s24",
        PCM,
      ),
      "a.wav",
    );
    assert.deepEqual([...pcm.channelData[0]], [-1, 0]);
    assert.deepEqual([...pcm.channelData[1]], [0.5, Math.fround(1 / 8388608)]);
    const flt = decodeWav(wav(FLOAT, 32, [[0.75, -0.5]], "f32", FLOAT), "a.wav");
    assert.deepEqual([...flt.channelData[0]], [0.75, -0.5]);
  });
});

describe("decodeWav chunk walk", () => {
  it("skips unknown chunks including the pad byte after an odd-sized chunk", () => {
    const fmt = fmtChunk({ formatTag: PCM, channels: 1, sampleRate: 8000, bitsPerSample: 16 });
    const odd = chunk("LIST", new Uint8Array([1, 2, 3])); // 3 bytes + 1 pad
    const data = chunk("data", samplesToBytes([[16384, -16384]], "s16"));
    const r = decodeWav(riff([odd, fmt, odd, data, odd]), "a.wav");
    assert.deepEqual([...r.channelData[0]], [0.5, -0.5]);
    assert.equal(r.sampleRate, 8000);
  });

  it("ignores a trailing partial frame", () => {
    const fmt = fmtChunk({ formatTag: PCM, channels: 2, sampleRate: 8000, bitsPerSample: 16 });
    const bytes = new Uint8Array([...samplesToBytes([[1], [2]], "s16"), 9, 9]);
    const r = decodeWav(riff([fmt, chunk("data", bytes)]), "a.wav");
    assert.equal(r.channelData[0].length, 1);
  });
});

describe("mixdown", () => {
  it("stereo WAV is averaged to mono by decodeAudio", async () => {
    const bytes = wav(
      PCM,
      16,
      [
        [16384, 0, -32768],
        [0, 8192, -32768],
      ],
      "s16",
    );
    const r = await decodeAudio(bytes, "s.wav");
    assert.equal(r.channels, 2);
    assert.equal(r.sourceFormat, "wav");
    assert.deepEqual([...r.samples], [0.25, 0.125, -1]);
    assert.equal(r.durationSec, 3 / 8000);
  });

  it("6-channel WAV is averaged to mono", async () => {
    const chans = [0, 1, 2, 3, 4, 5].map((c) => [c * 1000, -c * 1000]);
    const r = await decodeAudio(wav(PCM, 16, chans, "s16"), "51.wav");
    assert.equal(r.channels, 6);
    assert.deepEqual([...r.samples], [Math.fround(2500 / 32768), Math.fround(-2500 / 32768)]);
  });

  it("mixToMono returns a single channel unchanged", () => {
    const x = new Float32Array([1, 2]);
    assert.equal(mixToMono([x]), x);
  });
});

describe("encodeWav", () => {
  it("pcm16 round trips exact multiples of 1/32768", async () => {
    const x = new Float32Array([-1, -0.5, 0, 1 / 32768, 0.999969482421875]);
    const r = await decodeAudio(encodeWav(x, 22050), "e.wav");
    assert.deepEqual([...r.samples], [...x]);
    assert.equal(r.sampleRate, 22050);
    assert.equal(r.bitDepth, 16);
  });

  it("pcm16 clips out-of-range values", async () => {
    const r = await decodeAudio(encodeWav(new Float32Array([2, -2]), 8000), "c.wav");
    assert.deepEqual([...r.samples], [32767 / 32768, -1].map(Math.fround));
  });

  it("float32 round trips bit-exactly", async () => {
    const x = new Float32Array([0.1, -0.7, 1.25, 1e-8]);
    const r = await decodeAudio(encodeWav(x, 16000, { format: "float32" }), "f.wav");
    assert.deepEqual([...r.samples], [...x]);
    assert.equal(r.bitDepth, 32);
  });
});

import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { describe, it } from "node:test";
import { decodeAudio, parseFlacStreamInfo } from "@ser-edge/agent/audio";
import { toneAmplitude } from "../fixtures/audio-gen/wav-builder.js";

const fixture = (name: string) => new URL(`../fixtures/audio/${name}`, import.meta.url);
const FLAC = "03-01-01-01-01-01-01.flac";

describe("FLAC", () => {
  it("parses STREAMINFO", async () => {
    const bytes = new Uint8Array(await readFile(fixture(FLAC)));
    assert.deepEqual(parseFlacStreamInfo(bytes, FLAC), {
      sampleRate: 16000,
      channels: 1,
      bitsPerSample: 16,
      totalSamples: 52853,
    });
  });

  it("decodes the fixture to exact multiples of 1/32768", async () => {
    const r = await decodeAudio(new Uint8Array(await readFile(fixture(FLAC))), FLAC);
    assert.equal(r.sourceFormat, "flac");
    assert.equal(r.sampleRate, 16000);
    assert.equal(r.channels, 1);
    assert.equal(r.bitDepth, 16);
    assert.equal(r.samples.length, 52853);
    let nonZero = 0;
    for (const v of r.samples) {
      const k = v * 32768;
      assert.ok(Number.isInteger(k) && k >= -32768 && k <= 32767, `${v} is not int16/32768`);
      if (k !== 0) nonZero++;
    }
    assert.ok(nonZero > 5000, `only ${nonZero} non-zero samples`);
  });

  it("keeps a last frame that ends exactly at end of file", async () => {
    // This RAVDESS clip decoded 3,158 samples short before the decoder's input was padded.
    const name = "03-01-02-01-01-01-05.flac";
    const bytes = new Uint8Array(await readFile(fixture(name)));
    assert.equal(parseFlacStreamInfo(bytes, name).totalSamples, 64598);
    const r = await decodeAudio(bytes, name);
    assert.equal(r.samples.length, 64598);
    assert.notEqual(r.samples[64598 - 1000], 0);
  });
});

describe("MP3", () => {
  it("decodes a 1 s 1 kHz mono tone gaplessly to the right length and pitch", async () => {
    const name = "tone-1khz-16k-mono.mp3";
    const r = await decodeAudio(new Uint8Array(await readFile(fixture(name))), name);
    assert.equal(r.sourceFormat, "mp3");
    assert.equal(r.sampleRate, 16000);
    assert.equal(r.channels, 1);
    assert.ok(Math.abs(r.samples.length - 16000) <= 16, `length ${r.samples.length}`);
    // Tone was written at amplitude 0.5; the codec may shift the level slightly (~0.5 dB).
    const mid = [1600, 14400] as const;
    const amp = toneAmplitude(r.samples, 1000, 16000, ...mid);
    assert.ok(Math.abs(20 * Math.log10(amp / 0.5)) < 1, `1 kHz amplitude ${amp}`);
    const off = toneAmplitude(r.samples, 1100, 16000, ...mid);
    assert.ok(off < 0.01, `1.1 kHz amplitude ${off}`);
  });
});

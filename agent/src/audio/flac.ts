import { skipId3v2 } from "./detect.js";
import { AudioError } from "./errors.js";
import type { DecodedChannels } from "./types.js";

export interface FlacStreamInfo {
  sampleRate: number;
  channels: number;
  bitsPerSample: number;
  /** Total samples per channel; 0 means "unknown" (allowed by the spec). */
  totalSamples: number;
}

/**
 * Parse the mandatory STREAMINFO block. We need it because the WASM decoder never reports
 * errors: a truncated or corrupt file silently decodes short, and only this count exposes that.
 */
export function parseFlacStreamInfo(bytes: Uint8Array, path: string): FlacStreamInfo {
  const start = skipId3v2(bytes);
  // "fLaC" + 4-byte metadata block header + 34-byte STREAMINFO body.
  if (bytes.length < start + 42) {
    throw new AudioError(
      "TRUNCATED_HEADER",
      path,
      `FLAC file is ${bytes.length} bytes, too short for its STREAMINFO header; ` +
        "the file is truncated, re-export it",
    );
  }
  const type = bytes[start + 4] & 0x7f;
  const length = (bytes[start + 5] << 16) | (bytes[start + 6] << 8) | bytes[start + 7];
  if (type !== 0 || length < 34) {
    throw new AudioError(
      "CORRUPT",
      path,
      "FLAC file does not start with a STREAMINFO block; the file is damaged, re-export it",
    );
  }
  const s = start + 8;
  // Bits from offset 10: rate (20) | channels-1 (3) | bps-1 (5) | total samples (36).
  const sampleRate = (bytes[s + 10] << 12) | (bytes[s + 11] << 4) | (bytes[s + 12] >> 4);
  const channels = ((bytes[s + 12] >> 1) & 0x7) + 1;
  const bitsPerSample = (((bytes[s + 12] & 0x1) << 4) | (bytes[s + 13] >> 4)) + 1;
  const totalHigh = bytes[s + 13] & 0xf;
  const totalLow =
    ((bytes[s + 14] << 24) | (bytes[s + 15] << 16) | (bytes[s + 16] << 8) | bytes[s + 17]) >>> 0;
  return { sampleRate, channels, bitsPerSample, totalSamples: totalHigh * 2 ** 32 + totalLow };
}

/**
 * The decoder returns int / (2^(b-1) - 1); rescale to int / 2^(b-1) so 16-bit FLAC gives
 * exactly the same floats as 16-bit WAV (and librosa/soundfile).
 */
function rescale(channel: Float32Array, bits: number): void {
  const full = 2 ** (bits - 1);
  const max = full - 1;
  for (let i = 0; i < channel.length; i++) channel[i] = Math.round(channel[i] * max) / full;
}

/**
 * The decoder's frame parser only accepts a frame once it has seen bytes after it, so a file
 * whose last frame ends exactly at EOF can lose that frame (1 of the 1,200 RAVDESS clips here,
 * Actor_05/03-01-02-01-01-01-05, came back 3,158 samples short). Zeros after the stream are no
 * frame sync, so they change nothing else; the STREAMINFO count check still guards the result.
 */
function withTrailingZeros(bytes: Uint8Array): Uint8Array {
  const padded = new Uint8Array(bytes.length + 65536);
  padded.set(bytes);
  return padded;
}

export async function decodeFlac(bytes: Uint8Array, path: string): Promise<DecodedChannels> {
  const info = parseFlacStreamInfo(bytes, path);
  if (info.sampleRate === 0) {
    throw new AudioError(
      "BAD_FORMAT",
      path,
      "FLAC STREAMINFO declares a sample rate of 0 Hz; the header is invalid, re-export the file",
    );
  }
  // Loaded on the first FLAC: a microphone never needs the decoder (~4 MiB resident).
  const { FLACDecoder } = await import("@wasm-audio-decoders/flac");
  const decoder = new FLACDecoder();
  let result: Awaited<ReturnType<InstanceType<typeof FLACDecoder>["decodeFile"]>>;
  try {
    await decoder.ready;
    result = await decoder.decodeFile(withTrailingZeros(bytes));
  } finally {
    decoder.free();
  }
  const { samplesDecoded, sampleRate, channelData, errors } = result;
  const short = info.totalSamples > 0 && samplesDecoded !== info.totalSamples;
  if (errors.length > 0 || sampleRate === 0 || short || samplesDecoded === 0) {
    const expected = info.totalSamples > 0 ? ` of ${info.totalSamples}` : "";
    const detail = errors.length > 0 ? ` (${errors[0].message})` : "";
    throw new AudioError(
      "CORRUPT",
      path,
      `FLAC decoding produced ${samplesDecoded}${expected} samples${detail}; ` +
        "the file is truncated or corrupt, re-export it",
    );
  }
  const bits = result.bitDepth || info.bitsPerSample;
  for (const channel of channelData) rescale(channel, bits);
  return { sampleRate, channelData, bitDepth: bits };
}

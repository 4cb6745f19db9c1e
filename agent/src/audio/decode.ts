import { detectFormat } from "./detect.js";
import { AudioError } from "./errors.js";
import { decodeFlac } from "./flac.js";
import { mixToMono } from "./mix.js";
import { decodeMp3 } from "./mp3.js";
import type { DecodedAudio, DecodedChannels } from "./types.js";
import { decodeWav } from "./wav.js";

/**
 * Decode WAV, FLAC or MP3 bytes (format found from magic bytes) and mix down to mono.
 * `name` is only used in error messages, normally the file path.
 */
export async function decodeAudio(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  if (bytes.length === 0) {
    throw new AudioError("EMPTY", name, "file is empty (0 bytes); re-export or re-record it");
  }
  const sourceFormat = detectFormat(bytes, name);
  let decoded: DecodedChannels;
  if (sourceFormat === "wav") decoded = decodeWav(bytes, name);
  else if (sourceFormat === "flac") decoded = await decodeFlac(bytes, name);
  else decoded = await decodeMp3(bytes, name);

  const samples = mixToMono(decoded.channelData);
  if (samples.length === 0) {
    throw new AudioError(
      "EMPTY",
      name,
      `${sourceFormat.toUpperCase()} file contains no audio samples; re-export or re-record it`,
    );
  }
  const { sampleRate, bitDepth } = decoded;
  return {
    sampleRate,
    channels: decoded.channelData.length,
    samples,
    sourceFormat,
    ...(bitDepth ? { bitDepth } : {}),
    durationSec: samples.length / sampleRate,
  };
}

import { readFile, stat } from "node:fs/promises";
import { decodeAudio } from "./decode.js";
import { AudioError } from "./errors.js";
import { resample } from "./resample.js";
import type { LoadedAudio } from "./types.js";

export interface ReadAudioOptions {
  /** Output sample rate in Hz (integer). Default 16000. */
  targetRate?: number;
}

async function readBytes(path: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) {
      throw new AudioError("IS_DIRECTORY", path, "is a directory, not an audio file; pass a file");
    }
    return await readFile(path); // a Buffer is a Uint8Array
  } catch (err) {
    if (err instanceof AudioError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT") {
      throw new AudioError("NOT_FOUND", path, "file not found; check the path", { cause: err });
    }
    if (code === "EISDIR") {
      throw new AudioError("IS_DIRECTORY", path, "is a directory, not an audio file; pass a file");
    }
    const reason = err instanceof Error ? err.message : String(err);
    throw new AudioError("READ_FAILED", path, `cannot read file (${reason}); check permissions`, {
      cause: err,
    });
  }
}

/** Read, decode, mix to mono and resample an audio file to `targetRate` (default 16 kHz). */
export async function readAudioFile(
  path: string,
  options: ReadAudioOptions = {},
): Promise<LoadedAudio> {
  const targetRate = options.targetRate ?? 16000;
  const decoded = await decodeAudio(await readBytes(path), path);
  const samples = await resample(decoded.samples, decoded.sampleRate, targetRate);
  return {
    sampleRate: targetRate,
    samples,
    durationSec: samples.length / targetRate,
    source: {
      path,
      format: decoded.sourceFormat,
      sampleRate: decoded.sampleRate,
      channels: decoded.channels,
      ...(decoded.bitDepth ? { bitDepth: decoded.bitDepth } : {}),
    },
  };
}

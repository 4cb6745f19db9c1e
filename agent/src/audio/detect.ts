import { AudioError } from "./errors.js";
import type { AudioFormat } from "./types.js";

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

/** Byte offset just past a leading ID3v2 tag (0 if there is none). */
export function skipId3v2(bytes: Uint8Array): number {
  if (bytes.length < 10 || ascii(bytes, 0, 3) !== "ID3") return 0;
  // Tag size is a 28-bit "syncsafe" integer (7 bits per byte); flag 0x10 means a 10-byte footer.
  const size = (bytes[6] << 21) | (bytes[7] << 14) | (bytes[8] << 7) | bytes[9];
  const footer = bytes[5] & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/**
 * True if a valid MPEG audio frame header starts at `offset`: 11-bit sync, a real layer, and
 * bitrate/sample-rate indexes that are not "bad"/"reserved" (this rejects ADTS AAC, layer 0).
 */
export function isMpegFrameHeader(bytes: Uint8Array, offset: number): boolean {
  if (offset + 4 > bytes.length) return false;
  const b1 = bytes[offset + 1];
  const b2 = bytes[offset + 2];
  return (
    bytes[offset] === 0xff &&
    (b1 & 0xe0) === 0xe0 &&
    ((b1 >> 3) & 0x3) !== 1 && // reserved MPEG version
    ((b1 >> 1) & 0x3) !== 0 && // reserved layer
    b2 >> 4 !== 0xf &&
    ((b2 >> 2) & 0x3) !== 3
  );
}

/** Containers we recognise but cannot decode, for a helpful message. */
function describeUnsupported(bytes: Uint8Array): string | undefined {
  const head = ascii(bytes, 0, 4);
  if (head === "OggS") return "an Ogg (Vorbis/Opus) file";
  if (ascii(bytes, 4, 4) === "ftyp") return "an MP4/M4A/AAC file";
  if (head === "RIFX") return "a big-endian RIFX WAV file";
  if (head === "RF64") return "an RF64 (64-bit WAV) file";
  if (head === "FORM") return "an AIFF file";
  if (head === "RIFF") return `a RIFF file of type "${ascii(bytes, 8, 4)}" (not WAVE)`;
  if (bytes[0] === 0xff && (bytes[1] & 0xf6) === 0xf0) return "an ADTS AAC stream";
  return undefined;
}

/** Identify the container from magic bytes; the file extension is deliberately ignored. */
export function detectFormat(bytes: Uint8Array, path: string): AudioFormat {
  // A RIFF file too short to say its type is handed to the WAV parser to report a truncated header.
  if (ascii(bytes, 0, 4) === "RIFF" && (bytes.length < 12 || ascii(bytes, 8, 4) === "WAVE")) {
    return "wav";
  }
  const start = skipId3v2(bytes);
  if (start + 4 <= bytes.length && ascii(bytes, start, 4) === "fLaC") return "flac";
  if (isMpegFrameHeader(bytes, start)) return "mp3";
  const known = describeUnsupported(bytes);
  const what = known ?? "not a recognised audio format (no WAV, FLAC or MP3 signature)";
  throw new AudioError(
    "UNSUPPORTED_CODEC",
    path,
    `${known ? `this is ${what}` : what}; convert it to WAV (PCM or float), FLAC or MP3, ` +
      "e.g. `ffmpeg -i input output.wav`",
  );
}

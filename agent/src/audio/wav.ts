import { AudioError } from "./errors.js";
import type { DecodedChannels } from "./types.js";

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;

/** Names for format tags people actually run into, so the error can say what the file is. */
const KNOWN_CODECS: Record<number, string> = {
  2: "Microsoft ADPCM",
  6: "A-law",
  7: "mu-law",
  17: "IMA ADPCM",
  49: "GSM 6.10",
  80: "MPEG audio",
  85: "MP3",
  255: "AAC",
  5648: "AAC (HE-AAC)",
};

/** Tail shared by every KSDATAFORMAT_SUBTYPE GUID; the first 2 bytes carry the format tag. */
const SUBFORMAT_GUID_TAIL = [
  0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71,
];

export interface WavFormat {
  /** Effective format tag: PCM (1) or IEEE float (3) after resolving EXTENSIBLE. */
  formatTag: number;
  channels: number;
  sampleRate: number;
  blockAlign: number;
  bitsPerSample: number;
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

function hex(tag: number): string {
  return `0x${tag.toString(16).padStart(4, "0")}`;
}

function unsupported(path: string, tag: number): AudioError {
  const name = KNOWN_CODECS[tag] ? `${KNOWN_CODECS[tag]} (format tag ${hex(tag)})` : hex(tag);
  return new AudioError(
    "UNSUPPORTED_CODEC",
    path,
    `WAV codec ${name} is not supported, only PCM and IEEE float; ` +
      "convert it, e.g. `ffmpeg -i input -c:a pcm_s16le output.wav`",
  );
}

function parseFmt(view: DataView, bytes: Uint8Array, at: number, size: number, path: string) {
  if (size < 16) {
    throw new AudioError(
      "TRUNCATED_HEADER",
      path,
      `WAV fmt chunk is ${size} bytes, expected at least 16; the header is damaged, re-export the file`,
    );
  }
  let formatTag = view.getUint16(at, true);
  const channels = view.getUint16(at + 2, true);
  const sampleRate = view.getUint32(at + 4, true);
  const blockAlign = view.getUint16(at + 12, true);
  const bitsPerSample = view.getUint16(at + 14, true);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    if (size < 40) {
      throw new AudioError(
        "TRUNCATED_HEADER",
        path,
        `WAV fmt chunk is WAVE_FORMAT_EXTENSIBLE but only ${size} bytes long (need 40); re-export the file`,
      );
    }
    // Sub-format GUID at offset 24; valid-bits (offset 18) may be < container bits, but the
    // samples are left-justified in the container, so scaling by container bits is correct.
    const guid = bytes.subarray(at + 24, at + 40);
    const tail = SUBFORMAT_GUID_TAIL.every((b, i) => guid[i + 2] === b);
    formatTag = tail ? view.getUint16(at + 24, true) : -1;
    if (formatTag === -1) {
      throw new AudioError(
        "UNSUPPORTED_CODEC",
        path,
        "WAV sub-format GUID is not a standard PCM/float GUID; " +
          "convert it, e.g. `ffmpeg -i input -c:a pcm_s16le output.wav`",
      );
    }
  }
  return { formatTag, channels, sampleRate, blockAlign, bitsPerSample };
}

function validateFormat(fmt: WavFormat, path: string): void {
  const { formatTag, channels, sampleRate, bitsPerSample, blockAlign } = fmt;
  if (formatTag !== WAVE_FORMAT_PCM && formatTag !== WAVE_FORMAT_IEEE_FLOAT) {
    throw unsupported(path, formatTag);
  }
  const bad = (problem: string) =>
    new AudioError("BAD_FORMAT", path, `${problem}; the header is invalid, re-export the file`);
  if (channels === 0) throw bad("WAV header declares 0 channels");
  if (sampleRate === 0) throw bad("WAV header declares a sample rate of 0 Hz");
  const allowed = formatTag === WAVE_FORMAT_PCM ? [8, 16, 24, 32] : [32, 64];
  if (!allowed.includes(bitsPerSample)) {
    const kind = formatTag === WAVE_FORMAT_PCM ? "PCM" : "float";
    throw bad(`WAV ${kind} with ${bitsPerSample} bits per sample is not supported (${allowed})`);
  }
  const frame = (channels * bitsPerSample) / 8;
  if (blockAlign !== frame) {
    throw bad(
      `WAV block align is ${blockAlign} but ${channels} x ${bitsPerSample}-bit needs ${frame}`,
    );
  }
}

type SampleReader = (view: DataView, offset: number) => number;

function sampleReader(fmt: WavFormat): SampleReader {
  if (fmt.formatTag === WAVE_FORMAT_IEEE_FLOAT) {
    return fmt.bitsPerSample === 32
      ? (v, o) => v.getFloat32(o, true)
      : (v, o) => v.getFloat64(o, true);
  }
  switch (fmt.bitsPerSample) {
    case 8: // 8-bit WAV is unsigned with 128 as zero
      return (v, o) => (v.getUint8(o) - 128) / 128;
    case 16:
      return (v, o) => v.getInt16(o, true) / 32768;
    case 24:
      return (v, o) => (v.getUint16(o, true) | (v.getInt8(o + 2) << 16)) / 8388608;
    default:
      return (v, o) => v.getInt32(o, true) / 2147483648;
  }
}

/**
 * Decode a RIFF/WAVE file: walks the chunks (honouring the pad byte after odd-sized chunks),
 * requires `fmt ` before `data`, and returns per-channel float samples.
 */
export function decodeWav(bytes: Uint8Array, path: string): DecodedChannels {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 12) {
    throw new AudioError(
      "TRUNCATED_HEADER",
      path,
      `file is only ${bytes.length} bytes, too short for a WAV header (12+ bytes); ` +
        "the file is truncated, re-export or re-record it",
    );
  }
  let fmt: WavFormat | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.length) {
    const id = ascii(bytes, offset, 4);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    const remaining = bytes.length - body;
    if (id === "fmt ") {
      if (size > remaining) {
        throw new AudioError(
          "TRUNCATED_HEADER",
          path,
          `WAV fmt chunk declares ${size} bytes but only ${remaining} remain; ` +
            "the file is truncated, re-export or re-record it",
        );
      }
      fmt = parseFmt(view, bytes, body, size, path);
      validateFormat(fmt, path);
    } else if (id === "data") {
      if (!fmt) {
        throw new AudioError(
          "BAD_FORMAT",
          path,
          "WAV data chunk comes before the fmt chunk, so the sample format is unknown; " +
            "re-export the file",
        );
      }
      if (size > remaining) {
        throw new AudioError(
          "DATA_OVERRUN",
          path,
          `WAV data chunk declares ${size} bytes but only ${remaining} remain after the header ` +
            "(file truncated?); re-export or re-record the file",
        );
      }
      return { ...readData(view, body, size, fmt, path), bitDepth: fmt.bitsPerSample };
    }
    offset = body + size + (size & 1);
  }
  throw new AudioError(
    "TRUNCATED_HEADER",
    path,
    `WAV file ends before ${fmt ? "a data" : "the fmt and data"} chunk; ` +
      "the file is truncated or not a finished recording, re-export or re-record it",
  );
}

function readData(view: DataView, start: number, size: number, fmt: WavFormat, path: string) {
  const { channels, blockAlign, sampleRate } = fmt;
  const bytesPerSample = fmt.bitsPerSample / 8;
  // A trailing partial frame (odd writers) is ignored rather than rejected.
  const frames = Math.floor(size / blockAlign);
  const read = sampleReader(fmt);
  const isFloat = fmt.formatTag === WAVE_FORMAT_IEEE_FLOAT;
  const channelData = Array.from({ length: channels }, () => new Float32Array(frames));
  if (!isFloat && fmt.bitsPerSample === 16) {
    // The common case (what arecord and most recorders write), without a reader call per sample.
    for (let c = 0; c < channels; c++) {
      const out = channelData[c];
      for (let i = 0, o = start + 2 * c; i < frames; i++, o += blockAlign) {
        out[i] = view.getInt16(o, true) / 32768;
      }
    }
    return { sampleRate, channelData };
  }
  for (let c = 0; c < channels; c++) {
    const out = channelData[c];
    let o = start + c * bytesPerSample;
    for (let i = 0; i < frames; i++, o += blockAlign) {
      out[i] = read(view, o);
      // Checked after the float32 store so float64 values beyond float32 range count too.
      if (isFloat && !Number.isFinite(out[i])) {
        throw new AudioError(
          "NON_FINITE",
          path,
          `WAV float sample ${i} (t=${(i / sampleRate).toFixed(3)} s, channel ${c}) is ${out[i]}; ` +
            "the audio contains NaN/Inf values, re-export it from the source",
        );
      }
    }
  }
  return { sampleRate, channelData };
}

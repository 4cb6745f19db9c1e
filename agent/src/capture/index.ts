import type { BaseSourceOptions } from "./base.js";
import { FileSource, type FileSourceOptions } from "./file.js";
import { type MicrophoneOptions, MicrophoneSource } from "./microphone.js";
import { StdinSource } from "./stdin.js";
import type { AudioSource } from "./types.js";

export { BaseAudioSource, type BaseSourceOptions } from "./base.js";
export { FileSource, type FileSourceOptions } from "./file.js";
export { type BackoffOptions, type MicrophoneOptions, MicrophoneSource } from "./microphone.js";
export { encodeS16le, S16leDecoder } from "./pcm.js";
export { StdinSource, type StdinSourceOptions } from "./stdin.js";
export {
  type AudioChunk,
  type AudioSource,
  type AudioSourceEvents,
  type AudioSourceKind,
  CAPTURE_SAMPLE_RATE,
  CaptureError,
  type CaptureErrorCode,
  type EndReason,
  type RecoveredInfo,
  type RetryInfo,
} from "./types.js";

export interface OpenAudioSourceOptions extends BaseSourceOptions {
  microphone?: Omit<MicrophoneOptions, keyof BaseSourceOptions | "device">;
  file?: Omit<FileSourceOptions, keyof BaseSourceOptions>;
}

/**
 * The source an `--input` value names: "-" is raw S16_LE 16 kHz mono on stdin; "mic" is the
 * default ALSA device and "mic:<pcm>" a named one (e.g. "mic:plughw:CARD=Device,DEV=0");
 * anything else is an audio file path.
 */
export function openAudioSource(input: string, options: OpenAudioSourceOptions = {}): AudioSource {
  const { microphone, file, ...base } = options;
  if (input === "-") return new StdinSource(process.stdin, base);
  if (input === "mic" || input.startsWith("mic:")) {
    const device = input === "mic" ? undefined : input.slice(4);
    return new MicrophoneSource({ ...microphone, ...base, ...(device ? { device } : {}) });
  }
  return new FileSource(input, { ...file, ...base });
}

export type AudioFormat = "wav" | "flac" | "mp3";

/** Output of a format decoder: one Float32Array per channel, samples in [-1, 1]. */
export interface DecodedChannels {
  sampleRate: number;
  channelData: Float32Array[];
  /** Bits per sample of the stored PCM, when the format has such a notion. */
  bitDepth?: number;
}

/** A decoded file, mixed down to mono but still at its original sample rate. */
export interface DecodedAudio {
  sampleRate: number;
  /** Channel count of the source before mixdown. */
  channels: number;
  /** Mono samples (mean of all channels). */
  samples: Float32Array;
  sourceFormat: AudioFormat;
  bitDepth?: number;
  durationSec: number;
}

/** Mono audio at the analysis rate, plus a description of where it came from. */
export interface LoadedAudio {
  sampleRate: number;
  samples: Float32Array;
  durationSec: number;
  source: {
    path: string;
    format: AudioFormat;
    sampleRate: number;
    channels: number;
    bitDepth?: number;
  };
}

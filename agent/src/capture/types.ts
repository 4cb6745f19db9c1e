/** The analysis rate: every source delivers mono audio at 16 kHz. */
export const CAPTURE_SAMPLE_RATE = 16000;

/** One block of audio as it arrived. */
export interface AudioChunk {
  /** Mono samples in [-1, 1); PCM sources give int16 / 32768 exactly. */
  samples: Float32Array;
  /**
   * Index of samples[0] in the source's output, counting every sample delivered since start()
   * (16 kHz). Chunks are contiguous: the next chunk starts at startSample + samples.length, also
   * across a microphone restart (whose gap is flagged by `discontinuity`, not skipped in here).
   */
  startSample: number;
  /** Wall-clock estimate (epoch ms) of samples[0]; see each source for how it is derived. */
  timeMs: number;
  /**
   * True on the first chunk after audio was lost (a microphone restart, or chunks dropped by a
   * full async-iterator queue): a voice-activity segmenter should end its utterance here.
   */
  discontinuity: boolean;
}

export type CaptureErrorCode =
  /** The recorder process exited (device unplugged, driver error, killed). Retried. */
  | "DEVICE_LOST"
  /** The recorder sent no audio for `stallTimeoutMs`; it was killed. Retried. */
  | "DEVICE_STALLED"
  /** The recorder could not be started (arecord missing, not executable). Retried. */
  | "SPAWN_FAILED"
  /** A stream source (stdin) failed; the source ends. */
  | "STREAM_FAILED"
  /** The byte stream ended in the middle of a 16-bit sample; that byte was dropped. */
  | "TRUNCATED_SAMPLE";

/**
 * A problem of a running audio source. The message says what went wrong and what to do, like
 * AudioError's; `source` names the device, file or stream.
 */
export class CaptureError extends Error {
  override readonly name = "CaptureError";

  constructor(
    readonly code: CaptureErrorCode,
    readonly source: string,
    problem: string,
    readonly details: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(`${source}: ${problem}`, options);
  }
}

/** Why a source stopped delivering audio for good. */
export type EndReason =
  /** stop() was called. */
  | "stopped"
  /** The file or stream has no more audio. */
  | "eof"
  /** A stream source failed (an "error" event carried the reason). */
  | "error"
  /** The microphone failed more than `maxRestarts` times in a row. */
  | "gave-up";

/** A microphone restart is scheduled after a failure. */
export interface RetryInfo {
  /** 1 for the first retry after a failure, 2 for the next (if that one fails too), ... */
  attempt: number;
  delayMs: number;
  error: CaptureError;
}

/** Audio flows again after one or more failures. */
export interface RecoveredInfo {
  attempts: number;
  /** Wall time from the failure to the first chunk of the new run. */
  downtimeMs: number;
}

export interface AudioSourceEvents {
  data: [chunk: AudioChunk];
  /**
   * Emitted only while at least one listener is attached (so it can never crash the process);
   * the source also logs it (warn) through its Logger. Microphone errors are recoverable: a
   * "retry" follows. A stdin stream error is followed by "end" with reason "error".
   */
  error: [error: CaptureError];
  retry: [info: RetryInfo];
  recovered: [info: RecoveredInfo];
  /** Emitted once; no "data" follows. */
  end: [reason: EndReason];
}

export type AudioSourceKind = "microphone" | "file" | "stdin";

/**
 * A live or recorded mono 16 kHz audio stream, consumed either with events ("data", "error",
 * "retry", "recovered", "end") or as an async iterable of chunks.
 *
 * Life cycle: start() begins delivery (the file source rejects here if the file cannot be read;
 * the microphone and stdin sources never reject: failures are "error" events). stop() ends
 * delivery, resolves once the source is idle (recorder process exited) and emits "end"
 * ("stopped") unless the source had already ended. Both are idempotent; a source is not
 * restarted after it ended.
 */
export interface AudioSource {
  readonly kind: AudioSourceKind;
  /** Always CAPTURE_SAMPLE_RATE. */
  readonly sampleRate: number;
  /** Samples delivered so far (the next chunk's startSample). */
  readonly samplesDelivered: number;
  /** Samples dropped because an async-iterator queue overflowed (microphone, real-time file). */
  readonly samplesDropped: number;
  readonly state: "idle" | "running" | "ended";
  start(): Promise<void>;
  stop(): Promise<void>;
  on<E extends keyof AudioSourceEvents>(
    event: E,
    listener: (...args: AudioSourceEvents[E]) => void,
  ): this;
  once<E extends keyof AudioSourceEvents>(
    event: E,
    listener: (...args: AudioSourceEvents[E]) => void,
  ): this;
  off<E extends keyof AudioSourceEvents>(
    event: E,
    listener: (...args: AudioSourceEvents[E]) => void,
  ): this;
  /**
   * Chunks until the source ends. Starts the source if it is idle. The iterator throws only
   * when the source ends with reason "error"; recoverable microphone errors are not thrown
   * (listen to "error" for them). Leaving the loop early (break, return, throw) stops the
   * source. Chunks wait in a bounded queue: a fast file or a stdin source is paused while it is
   * full; a microphone (or a real-time file) cannot wait, so the oldest chunks are dropped
   * (samplesDropped, and the chunk after the gap is flagged `discontinuity`).
   */
  [Symbol.asyncIterator](): AsyncIterator<AudioChunk>;
}

/** Machine-readable reasons an audio file could not be used. */
export type AudioErrorCode =
  | "NOT_FOUND"
  | "IS_DIRECTORY"
  | "READ_FAILED"
  | "EMPTY"
  | "TRUNCATED_HEADER"
  | "DATA_OVERRUN"
  | "UNSUPPORTED_CODEC"
  | "NON_FINITE"
  | "CORRUPT"
  | "BAD_FORMAT";

/**
 * Error for unusable audio input. The message always starts with the file path and says what
 * was wrong and what to do about it, so CLI code can print it as is.
 */
export class AudioError extends Error {
  override readonly name = "AudioError";

  constructor(
    readonly code: AudioErrorCode,
    readonly path: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${problem}`, options);
  }
}

export function isAudioError(err: unknown): err is AudioError {
  return err instanceof AudioError;
}

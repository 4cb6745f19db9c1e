/** Machine-readable reasons a model bundle, its manifest or a key could not be used. */
export type ModelErrorCode =
  | "manifest-missing"
  | "manifest-invalid"
  | "model-missing"
  | "model-invalid"
  | "read-failed"
  | "hash-mismatch"
  | "size-mismatch"
  | "unsigned"
  | "untrusted-key"
  | "bad-signature"
  | "io-mismatch"
  | "key-missing"
  | "key-invalid"
  | "self-test-failed";

/**
 * Error for an unusable bundle or key. The message starts with the path and says what is wrong
 * and what to do, so CLI code can print it as is.
 */
export class ModelError extends Error {
  override readonly name = "ModelError";

  constructor(
    readonly code: ModelErrorCode,
    readonly path: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${problem}`, options);
  }
}

export function isModelError(err: unknown): err is ModelError {
  return err instanceof ModelError;
}

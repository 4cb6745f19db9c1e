import type { ModelErrorCode } from "../model/index.js";

/** Why a pushed bundle was refused, beyond what ModelError already names. */
export type RolloutErrorCode =
  | "too-large"
  | "bundle-format"
  | "not-newer"
  | "version-conflict"
  | "rolled-back-before"
  | "rollback-invalid"
  | "store-failed";

/** Every reason a rollout report can carry. */
export type RejectCode = RolloutErrorCode | ModelErrorCode;

/** A refused rollout: `message` says what was wrong and what to do, as ModelError does. */
export class RolloutError extends Error {
  override readonly name = "RolloutError";

  constructor(
    readonly code: RolloutErrorCode,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(problem, options);
  }
}

import type { KeyObject } from "node:crypto";
import {
  checkModelBytes,
  compareVersions,
  type Manifest,
  ModelRunner,
  type ModelRuntime,
  selfTest,
  validateManifest,
  verifyManifestSignature,
} from "../model/index.js";
import { verifyRollback } from "./authorization.js";
import { decodeEnvelope } from "./envelope.js";
import { RolloutError } from "./errors.js";

/** What a pushed bundle is checked against. */
export interface CandidateContext {
  /** Payloads over this are refused before parsing. */
  maxBytes: number;
  /** The trust store (never empty: rollout is off without one). */
  keys: readonly KeyObject[];
  /** The model running now. */
  current: { version: string; sha256: string; createdAt: string };
  /** sha256 of models this device rolled back from: they are not installed again. */
  rolledBack: ReadonlySet<string>;
  /** issuedAt of the last rollback authorisation accepted. */
  lastRollback?: string;
  threads?: number;
  runtime?: ModelRuntime;
}

export type Candidate =
  /** The running model again (a retained message redelivered): nothing to do. */
  | { kind: "current"; id: string; manifest: Manifest }
  | {
      kind: "new";
      id: string;
      manifest: Manifest;
      model: Uint8Array;
      /** Loaded and self-tested; the caller owns it. */
      runner: ModelRunner;
      /** Set when an older model was accepted on a rollback authorisation. */
      rollbackIssuedAt?: string;
    };

/** The push id of a payload, if it can be read (for reports about unreadable bundles). */
export function envelopeId(payload: Uint8Array): string | undefined {
  try {
    return decodeEnvelope(payload).header.id;
  } catch {
    return undefined;
  }
}

/**
 * Checks a pushed bundle in the order that costs least and trusts least first, each failure
 * with its own code: size limit; envelope and manifest format; Ed25519 signature by the trust
 * store; the model's size and sha256; version newer than the running one (or a valid rollback
 * authorisation); ONNX Runtime loads the graph and its inputs, outputs and class count match the
 * manifest; the reference inputs reproduce their outputs. Throws RolloutError or ModelError.
 */
export async function checkCandidate(
  payload: Uint8Array,
  ctx: CandidateContext,
): Promise<Candidate> {
  if (payload.length > ctx.maxBytes) {
    throw new RolloutError(
      "too-large",
      `the bundle is ${payload.length} bytes, over this device's limit of ${ctx.maxBytes} (rollout.maxBytes); raise the limit or push a smaller model`,
    );
  }
  const { header, model } = decodeEnvelope(payload);
  const where = "pushed manifest";
  const manifest = validateManifest(header.manifest, where);
  // Before the hash: the hash is only worth what the signature over the manifest holding it is.
  verifyManifestSignature(manifest, [...ctx.keys], where);
  checkModelBytes(manifest, model, "pushed model");
  if (manifest.model.sha256 === ctx.current.sha256 && manifest.version === ctx.current.version) {
    return { kind: "current", id: header.id, manifest };
  }
  if (ctx.rolledBack.has(manifest.model.sha256)) {
    throw new RolloutError(
      "rolled-back-before",
      `model ${manifest.version} was rolled back on this device before (it crashed or failed during its probation); fix it and push it under a new version`,
    );
  }
  const order = compareVersions(manifest.version, ctx.current.version);
  let rollbackIssuedAt: string | undefined;
  if (order === 0) {
    throw new RolloutError(
      "version-conflict",
      `version ${manifest.version} is already running here with a different model; give the new model a new version`,
    );
  }
  if (order < 0) {
    if (header.rollback === undefined) {
      throw new RolloutError(
        "not-newer",
        `version ${manifest.version} is not newer than the running ${ctx.current.version} (anti-rollback); to go back on purpose, push it with \`ser-trainer push --rollback\``,
      );
    }
    const issued = verifyRollback(header.rollback, {
      keys: ctx.keys,
      target: { version: manifest.version, sha256: manifest.model.sha256 },
      currentCreatedAt: ctx.current.createdAt,
      ...(ctx.lastRollback !== undefined ? { lastAccepted: ctx.lastRollback } : {}),
    });
    rollbackIssuedAt = new Date(issued).toISOString();
  }
  const runner = await ModelRunner.create(model, manifest, {
    threads: ctx.threads ?? 1,
    runtime: ctx.runtime ?? "auto",
  });
  try {
    await selfTest(runner, "pushed model");
  } catch (err) {
    await runner.release();
    throw err;
  }
  return {
    kind: "new",
    id: header.id,
    manifest,
    model,
    runner,
    ...(rollbackIssuedAt ? { rollbackIssuedAt } : {}),
  };
}

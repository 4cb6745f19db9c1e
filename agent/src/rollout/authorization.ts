import { type KeyObject, sign, verify } from "node:crypto";
import { canonicalJson, keyIdOf } from "../model/index.js";
import { RolloutError } from "./errors.js";

/**
 * A signed permission to install one older model: the anti-rollback rule refuses any version
 * that is not newer than the running one (so a replayed old bundle cannot downgrade a device),
 * and this is the deliberate exception. It names the exact model (version and sha256) and is
 * dated; a device accepts each authorisation once, only if it was issued after the model it
 * replaces was created and after the last one it accepted, so an old authorisation replayed by
 * someone with the broker password installs nothing.
 */
export interface RollbackAuthorization {
  type: typeof ROLLBACK_TYPE;
  version: string;
  sha256: string;
  issuedAt: string;
  signature: { alg: "ed25519"; keyId: string; value: string };
}

/** Domain separation: a manifest signature can never pass as one of these, nor the reverse. */
export const ROLLBACK_TYPE = "ser-edge/rollback@1";

const payloadOf = (a: Omit<RollbackAuthorization, "signature">) =>
  Buffer.from(
    canonicalJson({ type: a.type, version: a.version, sha256: a.sha256, issuedAt: a.issuedAt }),
    "utf8",
  );

export function signRollback(
  target: { version: string; sha256: string },
  privateKey: KeyObject,
  issuedAt: Date = new Date(),
): RollbackAuthorization {
  const body = {
    type: ROLLBACK_TYPE,
    version: target.version,
    sha256: target.sha256,
    issuedAt: issuedAt.toISOString(),
  } as const;
  const value = sign(null, payloadOf(body), privateKey).toString("base64");
  return { ...body, signature: { alg: "ed25519", keyId: keyIdOf(privateKey), value } };
}

export interface RollbackContext {
  keys: readonly KeyObject[];
  /** The bundle it must name. */
  target: { version: string; sha256: string };
  /** createdAt of the model running now: an authorisation older than it is stale. */
  currentCreatedAt: string;
  /** issuedAt of the last authorisation this device accepted. */
  lastAccepted?: string;
}

/** Returns the authorisation's issue time (ms) or throws RolloutError "rollback-invalid". */
export function verifyRollback(value: unknown, ctx: RollbackContext): number {
  const fail = (problem: string): never => {
    throw new RolloutError("rollback-invalid", `the rollback authorisation ${problem}`);
  };
  const a = value as Partial<RollbackAuthorization>;
  if (typeof a !== "object" || a === null || a.type !== ROLLBACK_TYPE) {
    fail(`is not a "${ROLLBACK_TYPE}" object; create it with \`ser-trainer push --rollback\``);
  }
  const { version, sha256, issuedAt, signature } = a as RollbackAuthorization;
  if (typeof version !== "string" || typeof sha256 !== "string" || typeof issuedAt !== "string") {
    fail("lacks its version, sha256 or issuedAt");
  }
  const issued = Date.parse(issuedAt);
  if (!Number.isFinite(issued)) fail(`has an unreadable issuedAt ${JSON.stringify(issuedAt)}`);
  const key = ctx.keys.find((k) => keyIdOf(k) === signature?.keyId);
  if (!key) {
    fail(`is signed by key ${String(signature?.keyId)}, which is not in the trust store`);
  }
  const sig = typeof signature?.value === "string" ? Buffer.from(signature.value, "base64") : null;
  const body = { type: ROLLBACK_TYPE, version, sha256, issuedAt } as const;
  if (sig?.length !== 64 || !verify(null, payloadOf(body), key as KeyObject, sig)) {
    fail("has a signature that does not verify: it was altered or signed with another key");
  }
  if (version !== ctx.target.version || sha256 !== ctx.target.sha256) {
    fail(
      `names model ${version} (${sha256.slice(0, 12)}), not the pushed ${ctx.target.version} (${ctx.target.sha256.slice(0, 12)})`,
    );
  }
  const created = Date.parse(ctx.currentCreatedAt);
  if (Number.isFinite(created) && issued <= created) {
    fail(
      `was issued (${issuedAt}) before the running model was created (${ctx.currentCreatedAt}): it is stale or replayed; issue a new one`,
    );
  }
  if (ctx.lastAccepted !== undefined && issued <= Date.parse(ctx.lastAccepted)) {
    fail(
      `was issued (${issuedAt}) no later than the last one this device accepted (${ctx.lastAccepted}): it is replayed; issue a new one`,
    );
  }
  return issued;
}

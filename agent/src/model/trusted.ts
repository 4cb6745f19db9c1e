import type { KeyObject } from "node:crypto";
import { join } from "node:path";
import { loadModel, type ModelRunner, type RunnerOptions } from "./runner.js";
import { selfTest } from "./self-test.js";
import { loadPublicKeys } from "./signature.js";

/**
 * A bundle as the agent's commands use it: hash checked, signed by one of `keys` when any are
 * given (files or directories of .pub, or loaded keys), graph I/O matched, reference inputs self-tested.
 * Releases the session when any check fails.
 */
export async function loadTrustedModel(
  dir: string,
  opts: RunnerOptions & { keys?: readonly (string | KeyObject)[] } = {},
): Promise<ModelRunner> {
  const trustedKeys = [];
  for (const k of opts.keys ?? []) {
    if (typeof k === "string") trustedKeys.push(...(await loadPublicKeys(k)));
    else trustedKeys.push(k);
  }
  const runner = await loadModel(dir, {
    trustedKeys,
    requireSignature: trustedKeys.length > 0,
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(opts.runtime !== undefined ? { runtime: opts.runtime } : {}),
  });
  try {
    await selfTest(runner, join(dir, runner.manifest.model.file));
    return runner;
  } catch (err) {
    await runner.release();
    throw err;
  }
}

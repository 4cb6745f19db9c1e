// Signed bundles for the rollout tests: one real exported model (test/runtime/bundle.ts), then
// versions of it (same model, new manifest) and broken variants, each signed like the trainer does.
import { generateKeyPairSync, type KeyObject } from "node:crypto";
import { cpSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  MANIFEST_FILE,
  type Manifest,
  MODEL_FILE,
  manifestText,
  sha256Hex,
  signManifest,
} from "../../agent/src/model/index.js";
import { encodeEnvelope, signRollback } from "../../agent/src/rollout/index.js";
import { main as trainer } from "../../trainer/src/cli.js";
import { buildTestBundle, exportTestGraph } from "../runtime/bundle.js";

export interface Keys {
  privateKey: KeyObject;
  publicKey: KeyObject;
  /** The public key as a PEM file (what model.trustedKeys names). */
  pubFile: string;
}

export function makeKeys(dir: string, name = "fleet"): Keys {
  const { privateKey, publicKey } = generateKeyPairSync("ed25519");
  mkdirSync(dir, { recursive: true });
  const pubFile = join(dir, `${name}.pub`);
  writeFileSync(pubFile, publicKey.export({ type: "spki", format: "pem" }));
  return { privateKey, publicKey, pubFile };
}

export interface Base {
  dir: string;
  manifest: Manifest;
  model: Uint8Array;
}

/** The installed model: the runtime tests' exported TDNN, version 0.0.1, unsigned. */
export async function baseBundle(dir: string): Promise<Base> {
  const { manifest } = await buildTestBundle(dir);
  return { dir, manifest, model: new Uint8Array(readFileSync(join(dir, MODEL_FILE))) };
}

/** A manifest for `model` (hash and size recomputed), with `patch` applied, signed by `key`. */
export function manifestFor(
  base: Base,
  model: Uint8Array,
  patch: Partial<Manifest>,
  key: KeyObject | undefined,
): Manifest {
  const { signature: _s, ...rest } = base.manifest;
  const m: Manifest = {
    ...rest,
    createdAt: new Date().toISOString(),
    ...patch,
    model: { ...base.manifest.model, sha256: sha256Hex(model), bytes: model.length },
  };
  return key ? signManifest(m, key) : m;
}

/** The base model under a new version, signed. */
export function version(base: Base, v: string, key: KeyObject): Manifest {
  return manifestFor(base, base.model, { version: v }, key);
}

let ids = 0;
export function envelope(
  manifest: Manifest,
  model: Uint8Array,
  opts: { rollbackKey?: KeyObject; id?: string } = {},
): { id: string; payload: Buffer } {
  const id = opts.id ?? `test-${process.pid}-${++ids}`;
  const rollback = opts.rollbackKey
    ? signRollback({ version: manifest.version, sha256: manifest.model.sha256 }, opts.rollbackKey)
    : undefined;
  const payload = encodeEnvelope(
    { id, issuedAt: new Date().toISOString(), manifest, ...(rollback ? { rollback } : {}) },
    model,
  );
  return { id, payload };
}

/** Writes a bundle directory (for `ser-trainer push`). */
export function writeBundleDir(dir: string, manifest: Manifest, model: Uint8Array): string {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, MODEL_FILE), model);
  writeFileSync(join(dir, MANIFEST_FILE), manifestText(manifest));
  return dir;
}

/** The test TDNN with another input width or class count: a graph that fits no manifest. */
export const otherGraph = (change: { inputDim?: number; classes?: number }) =>
  exportTestGraph(change, 3);

/**
 * The nine bundles a device must refuse, each with the reason code it must give, all pushed as
 * newer versions than `running` so that only the defect can be the reason.
 */
export function badPushes(
  base: Base,
  keys: Keys,
  strangerKey: KeyObject,
  running: string,
  maxBytes: number,
): { name: string; code: string; id: string; payload: Buffer }[] {
  const next = (n: number) => {
    const [a, b, c] = running.split(".").map(Number);
    return `${a}.${b}.${c + 10 + n}`;
  };
  const out: { name: string; code: string; id: string; payload: Buffer }[] = [];
  const add = (name: string, code: string, e: { id: string; payload: Buffer }) =>
    out.push({ name, code, ...e });
  add(
    "wrong signing key",
    "untrusted-key",
    envelope(version(base, next(1), strangerKey), base.model),
  );
  add(
    "unsigned",
    "unsigned",
    envelope(manifestFor(base, base.model, { version: next(2) }, undefined), base.model),
  );
  const good = envelope(version(base, next(3), keys.privateKey), base.model);
  add("truncated file", "size-mismatch", {
    id: good.id,
    payload: good.payload.subarray(0, good.payload.length - 1000),
  });
  const flipped = envelope(version(base, next(4), keys.privateKey), base.model);
  const bytes = Buffer.from(flipped.payload);
  bytes[bytes.length - 5000] ^= 0x40;
  add("flipped byte in the model", "hash-mismatch", { id: flipped.id, payload: bytes });
  add(
    "older version replayed",
    "not-newer",
    envelope(version(base, "0.0.0", keys.privateKey), base.model),
  );
  const narrow = otherGraph({ inputDim: (base.manifest.input.shape.at(-1) as number) - 1 });
  add(
    "input shape that does not match",
    "io-mismatch",
    envelope(manifestFor(base, narrow, { version: next(6) }, keys.privateKey), narrow),
  );
  const wide = otherGraph({ classes: base.manifest.labels.length + 1 });
  add(
    "label count that does not match",
    "io-mismatch",
    envelope(manifestFor(base, wide, { version: next(7) }, keys.privateKey), wide),
  );
  const big = new Uint8Array(maxBytes + 1);
  add(
    "oversize payload",
    "too-large",
    envelope(manifestFor(base, big, { version: next(8) }, keys.privateKey), big),
  );
  const text = new TextEncoder().encode("this is not an ONNX model\n".repeat(40));
  add(
    "not ONNX at all",
    "model-invalid",
    envelope(manifestFor(base, text, { version: next(9) }, keys.privateKey), text),
  );
  return out;
}

export function copyDir(from: string, to: string): string {
  cpSync(from, to, { recursive: true });
  return to;
}

/** `ser-trainer ARGS...` in this process (real MQTT, real files), with what it printed. */
export async function runTrainer(
  args: string[],
): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  const code = await trainer(args, {
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
  });
  return { code, out, err };
}

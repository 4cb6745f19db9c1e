import {
  createHash,
  createPrivateKey,
  createPublicKey,
  type KeyObject,
  sign,
  verify,
} from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { signedPayload } from "./canonical.js";
import { ModelError } from "./errors.js";
import type { Manifest } from "./manifest.js";

/** An SPKI DER Ed25519 public key is a fixed 12-byte header followed by the raw 32-byte key. */
const RAW_KEY_BYTES = 32;
const SIGNATURE_BYTES = 64;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

function assertEd25519(key: KeyObject, path: string): void {
  if (key.asymmetricKeyType !== "ed25519") {
    throw new ModelError(
      "key-invalid",
      path,
      `is a ${key.asymmetricKeyType ?? key.type} key, not Ed25519; create one with \`ser-trainer keygen\``,
    );
  }
}

/** First 16 hex digits of sha256(raw public key). A private key gives its public key's id. */
export function keyIdOf(key: KeyObject): string {
  const pub = key.type === "private" ? createPublicKey(key) : key;
  assertEd25519(pub, "key");
  const der = pub.export({ type: "spki", format: "der" });
  const raw = der.subarray(der.length - RAW_KEY_BYTES);
  return createHash("sha256").update(raw).digest("hex").slice(0, 16);
}

/** A copy of the manifest signed with an Ed25519 private key (any old signature replaced). */
export function signManifest(manifest: Manifest, privateKey: KeyObject): Manifest {
  if (privateKey.type !== "private") {
    throw new ModelError(
      "key-invalid",
      "key",
      "signing needs the private key (.key), not a public one",
    );
  }
  assertEd25519(privateKey, "key");
  const { signature: _old, ...rest } = manifest;
  const value = sign(null, signedPayload(rest), privateKey).toString("base64");
  return { ...rest, signature: { alg: "ed25519", keyId: keyIdOf(privateKey), value } };
}

/**
 * Checks the manifest's signature against the trusted public keys and returns the signing key's
 * id. `path` only names the manifest in errors.
 */
export function verifyManifestSignature(
  manifest: Manifest,
  trustedKeys: KeyObject[],
  path = "manifest.json",
): string {
  const sig = manifest.signature;
  if (!sig) {
    throw new ModelError(
      "unsigned",
      path,
      "the bundle is not signed but a signature is required; sign it with `ser-trainer sign`",
    );
  }
  if (sig.alg !== "ed25519") {
    throw new ModelError(
      "bad-signature",
      path,
      `signature algorithm "${String(sig.alg)}" is not ed25519; re-sign the bundle`,
    );
  }
  const candidates = trustedKeys.filter((k) => keyIdOf(k) === sig.keyId);
  if (candidates.length === 0) {
    const known = trustedKeys.map(keyIdOf).join(", ") || "none";
    throw new ModelError(
      "untrusted-key",
      path,
      `signed by key ${sig.keyId}, which is not trusted (trusted: ${known}); install the publisher's .pub key or re-sign with a trusted key`,
    );
  }
  const bytes =
    typeof sig.value === "string" && BASE64.test(sig.value)
      ? Buffer.from(sig.value, "base64")
      : undefined;
  const payload = signedPayload(manifest);
  const ok =
    bytes?.length === SIGNATURE_BYTES && candidates.some((k) => verify(null, payload, k, bytes));
  if (!ok) {
    throw new ModelError(
      "bad-signature",
      path,
      `the signature by key ${sig.keyId} does not match: the manifest was modified after signing or the signature is corrupt; copy the bundle again or re-sign it`,
    );
  }
  return sig.keyId;
}

async function readKeyFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem =
      code === "ENOENT" ? "no such key file" : `cannot read the key (${code ?? String(err)})`;
    throw new ModelError("key-missing", path, `${problem}; check the path`, { cause: err });
  }
}

function parsePublicKey(pem: string, path: string): KeyObject {
  if (pem.includes("PRIVATE KEY")) {
    throw new ModelError(
      "key-invalid",
      path,
      "is a private key; give the public key (.pub) instead, and keep this one secret",
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new ModelError(
      "key-invalid",
      path,
      "is not a PEM public key; use the .pub file from `ser-trainer keygen`",
      { cause: err },
    );
  }
  assertEd25519(key, path);
  return key;
}

/** Reads a PEM public key file, or every `*.pub` file of a directory (sorted by name). */
export async function loadPublicKeys(pathOrDir: string): Promise<KeyObject[]> {
  const info = await stat(pathOrDir).catch(() => undefined);
  if (!info?.isDirectory()) return [parsePublicKey(await readKeyFile(pathOrDir), pathOrDir)];
  const names = (await readdir(pathOrDir)).filter((n) => n.endsWith(".pub")).sort();
  if (names.length === 0) {
    throw new ModelError(
      "key-missing",
      pathOrDir,
      "contains no *.pub public key files; copy the publisher's .pub key here",
    );
  }
  const keys: KeyObject[] = [];
  for (const name of names) {
    const p = join(pathOrDir, name);
    keys.push(parsePublicKey(await readKeyFile(p), p));
  }
  return keys;
}

/** Reads a PEM (PKCS8) Ed25519 private key file. */
export async function loadPrivateKey(path: string): Promise<KeyObject> {
  const pem = await readKeyFile(path);
  let key: KeyObject;
  try {
    key = createPrivateKey(pem);
  } catch (err) {
    throw new ModelError(
      "key-invalid",
      path,
      "is not a PEM private key; use the .key file from `ser-trainer keygen`",
      { cause: err },
    );
  }
  assertEd25519(key, path);
  return key;
}

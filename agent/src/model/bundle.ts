import { createHash, type KeyObject } from "node:crypto";
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "./atomic.js";
import { ModelError } from "./errors.js";
import type { Manifest } from "./manifest.js";
import { verifyManifestSignature } from "./signature.js";
import { validateManifest } from "./validate.js";

export const MANIFEST_FILE = "manifest.json";
export const MODEL_FILE = "model.onnx";

export interface ReadBundleOptions {
  trustedKeys?: KeyObject[];
  /** Refuse unsigned bundles and bundles not signed by one of `trustedKeys`. */
  requireSignature: boolean;
}

export interface Bundle {
  manifest: Manifest;
  modelBytes: Uint8Array;
  dir: string;
  /** Key id of the verified signature; absent when the signature was not checked. */
  signedBy?: string;
}

/** A manifest as the exporter knows it: the model's hash and size are computed on writing. */
export type ManifestDraft = Omit<Manifest, "model" | "signature"> & {
  model: { opset: number; file?: string };
};

export const sha256Hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

async function readOrFail(
  path: string,
  missing: "manifest-missing" | "model-missing",
  what: string,
) {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") {
      throw new ModelError(
        missing,
        path,
        `not found: a bundle is a directory with ${what}; check the path or export the model again`,
        { cause: err },
      );
    }
    throw new ModelError(
      "read-failed",
      path,
      `cannot be read (${code ?? String(err)}); check its permissions`,
      { cause: err },
    );
  }
}

/** Reads and checks manifest.json of a bundle directory (structure only, not the model). */
export async function readManifest(dir: string): Promise<Manifest> {
  const path = join(dir, MANIFEST_FILE);
  const text = (
    await readOrFail(path, "manifest-missing", `${MANIFEST_FILE} and the model`)
  ).toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ModelError(
      "manifest-invalid",
      path,
      `is not valid JSON (${(err as Error).message}); copy the bundle again or re-export it`,
      { cause: err },
    );
  }
  return validateManifest(value, path);
}

/** Throws unless the model bytes have the size and sha256 the manifest records. */
export function checkModelBytes(manifest: Manifest, bytes: Uint8Array, path: string): void {
  const fix = "the bundle is truncated or was modified; copy it again or re-export";
  if (bytes.length !== manifest.model.bytes) {
    throw new ModelError(
      "size-mismatch",
      path,
      `expected ${manifest.model.bytes} bytes, found ${bytes.length}: ${fix}`,
    );
  }
  const actual = sha256Hex(bytes);
  if (actual !== manifest.model.sha256) {
    throw new ModelError(
      "hash-mismatch",
      path,
      `expected sha256 ${manifest.model.sha256}, found ${actual}: ${fix}`,
    );
  }
}

/**
 * Reads a bundle and checks everything that can be checked without running the model: the
 * manifest's structure, its signature (when required, or when signed and keys are given), then
 * the model's size and hash.
 */
export async function readBundle(dir: string, opts: ReadBundleOptions): Promise<Bundle> {
  const manifest = await readManifest(dir);
  const manifestPath = join(dir, MANIFEST_FILE);
  const keys = opts.trustedKeys ?? [];
  let signedBy: string | undefined;
  // The signature first: the hash below is only as trustworthy as the manifest holding it.
  if (opts.requireSignature || (manifest.signature && keys.length > 0)) {
    if (opts.requireSignature && manifest.signature && keys.length === 0) {
      throw new ModelError(
        "untrusted-key",
        manifestPath,
        "a signature is required but no trusted public key was given; install the publisher's .pub key",
      );
    }
    signedBy = verifyManifestSignature(manifest, keys, manifestPath);
  }
  const modelPath = join(dir, manifest.model.file);
  const modelBytes = new Uint8Array(
    await readOrFail(modelPath, "model-missing", `${MANIFEST_FILE} and ${manifest.model.file}`),
  );
  checkModelBytes(manifest, modelBytes, modelPath);
  return { manifest, modelBytes, dir, ...(signedBy ? { signedBy } : {}) };
}

/** Throws "io-mismatch" unless the graph's inputs and outputs are the ones the manifest names. */
export function checkGraphIo(
  manifest: Manifest,
  inputNames: string[],
  outputNames: string[],
  path: string = manifest.model.file,
): void {
  const wantIn = [manifest.input.name];
  const { probabilities, logits } = manifest.outputs;
  const wantOut = logits ? [probabilities.name, logits.name] : [probabilities.name];
  // Every graph input must be fed, so they must match exactly; extra outputs are harmless.
  const inOk = inputNames.length === 1 && inputNames[0] === wantIn[0];
  const outOk = wantOut.every((n) => outputNames.includes(n));
  if (!inOk || !outOk) {
    const list = (names: string[]) => `[${names.map((n) => `"${n}"`).join(", ")}]`;
    throw new ModelError(
      "io-mismatch",
      path,
      `the graph's inputs ${list(inputNames)} and outputs ${list(outputNames)} do not match the manifest's input ${list(wantIn)} and outputs ${list(wantOut)}; the manifest belongs to another model, re-export the bundle`,
    );
  }
}

/**
 * Throws "io-mismatch" when a dimension the graph fixes contradicts the manifest: the feature
 * width of the input, and the class count of the outputs, which must be the number of labels
 * (a model with 8 outputs under 7 labels would publish a wrong name for every class after the
 * missing one). Symbolic dimensions (batch, frames) match anything.
 */
export function checkGraphShapes(
  manifest: Manifest,
  inputs: ReadonlyMap<string, readonly (number | string)[]>,
  outputs: ReadonlyMap<string, readonly (number | string)[]>,
  path: string = manifest.model.file,
): void {
  const fixed = (d: number | string | undefined) =>
    typeof d === "number" && d > 0 ? d : undefined;
  const fail = (problem: string): never => {
    throw new ModelError(
      "io-mismatch",
      path,
      `${problem}; the manifest belongs to another model, re-export the bundle`,
    );
  };
  const input = inputs.get(manifest.input.name);
  if (input) {
    const want = manifest.input.shape;
    if (input.length !== want.length) {
      fail(
        `the graph's input "${manifest.input.name}" has ${input.length} dimensions, the manifest's ${want.length}`,
      );
    }
    const got = fixed(input.at(-1));
    const need = fixed(want.at(-1));
    if (got !== undefined && need !== undefined && got !== need) {
      fail(
        `the graph's input "${manifest.input.name}" takes ${got} features per frame, the manifest says ${need}`,
      );
    }
  }
  const outs = [manifest.outputs.probabilities, manifest.outputs.logits].filter(
    (t) => t !== undefined,
  );
  for (const spec of outs) {
    const classes = fixed(outputs.get(spec.name)?.at(-1));
    if (classes !== undefined && classes !== manifest.labels.length) {
      fail(
        `the graph's output "${spec.name}" has ${classes} classes but the manifest lists ${manifest.labels.length} labels`,
      );
    }
  }
}

export function manifestText(manifest: Manifest): string {
  return `${JSON.stringify(manifest, null, 2)}\n`;
}

/**
 * Writes a bundle: the model, then the manifest with the model's sha256 and size, each
 * atomically, so a reader never sees a half-written file. Returns the manifest (unsigned).
 */
export async function writeBundle(
  dir: string,
  modelBytes: Uint8Array,
  draft: ManifestDraft,
): Promise<Manifest> {
  const { signature: _stale, ...rest } = draft as ManifestDraft & { signature?: unknown };
  const file = draft.model.file ?? MODEL_FILE;
  const manifest: Manifest = {
    ...rest,
    model: {
      file,
      sha256: sha256Hex(modelBytes),
      bytes: modelBytes.length,
      opset: draft.model.opset,
    },
  };
  const manifestPath = join(dir, MANIFEST_FILE);
  // Same checks as the device applies, so a bad export fails here and not in the field.
  validateManifest(JSON.parse(JSON.stringify(manifest)), manifestPath);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, file), modelBytes);
  await writeFileAtomic(manifestPath, manifestText(manifest));
  return manifest;
}

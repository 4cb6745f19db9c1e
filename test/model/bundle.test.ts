import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { resolveFeatureParams } from "@ser-edge/agent/features";
import {
  CanonicalJsonError,
  canonicalJson,
  checkGraphIo,
  keyIdOf,
  loadPublicKeys,
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestDraft,
  ModelError,
  manifestText,
  readBundle,
  signedPayload,
  signManifest,
  verifyManifestSignature,
  writeBundle,
} from "@ser-edge/agent/model";
import { main as trainerMain } from "../../trainer/src/cli.js";

const tmp = (): string => mkdtempSync(join(tmpdir(), "ser-bundle-"));
const MODEL = new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 31 + 7) % 256));
const LABELS = ["neutral", "happy", "sad", "angry"];

/** A realistic, valid draft: 40 MFCCs, speaker normalisation, one reference case. */
function draft(): ManifestDraft {
  const features = resolveFeatureParams();
  const width = features.nMfcc;
  const frames = 3;
  const split = (speakers: string[], clips: number) => ({
    speakers,
    clips,
    labelCounts: Object.fromEntries(LABELS.map((l) => [l, clips / 4])),
  });
  return {
    schema: MANIFEST_SCHEMA,
    name: "ser-tdnn-4class",
    version: "1.2.0",
    createdAt: "2025-01-02T03:04:05.000Z",
    labels: [...LABELS],
    representation: "mfcc",
    features,
    normalization: {
      kind: "speaker",
      mean: Array.from({ length: width }, (_, i) => -20 + i * 0.37),
      std: Array.from({ length: width }, (_, i) => 1 + i * 0.11),
    },
    minFrames: 50,
    input: { name: "features", type: "float32", shape: ["batch", "frames", width] },
    outputs: {
      probabilities: { name: "probabilities", type: "float32", shape: ["batch", LABELS.length] },
      logits: { name: "logits", type: "float32", shape: ["batch", LABELS.length] },
    },
    architecture: {
      arch: "tdnn",
      description: "3 TDNN layers + stats pooling",
      parameters: 120345,
    },
    training: {
      corpora: ["ravdess", "cremad"],
      dataHash: "ab".repeat(32),
      command: "ser-trainer train --arch tdnn",
      epochs: 40,
      seed: 1,
      splits: {
        train: split(["ravdess:01", "ravdess:02"], 400),
        validation: split(["ravdess:17"], 40),
      },
    },
    metrics: {
      validation: {
        uar: 0.61,
        accuracy: 0.63,
        macroF1: 0.6,
        clips: 40,
        confusion: LABELS.map((_, r) => LABELS.map((_, c) => (r === c ? 7 : 1))),
      },
    },
    quantization: { kind: "none" },
    model: { opset: 17 },
    reference: [
      {
        description: "synthetic",
        frames,
        input: Array.from({ length: frames * width }, (_, i) => Math.sin(i) * 0.5),
        expected: [0.1, 0.2, 0.3, 0.4],
        tolerance: 1e-3,
      },
    ],
  };
}

function keyPair() {
  return generateKeyPairSync("ed25519");
}

async function bundle(): Promise<{ dir: string; manifest: Manifest }> {
  const dir = join(tmp(), "bundle");
  return { dir, manifest: await writeBundle(dir, MODEL, draft()) };
}

function writeManifest(dir: string, m: unknown): void {
  writeFileSync(join(dir, "manifest.json"), `${JSON.stringify(m, null, 2)}\n`);
}

async function rejectsCode(p: Promise<unknown>, code: string, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ModelError, `expected ModelError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe("canonicalJson", () => {
  it("sorts keys recursively, keeps arrays in order, has no whitespace", () => {
    const a = { b: [3, { z: 1, a: null }], a: "x", c: { y: true, x: -0 } };
    const b = { c: { x: 0, y: true }, a: "x", b: [3, { a: null, z: 1 }] };
    assert.equal(canonicalJson(a), '{"a":"x","b":[3,{"a":null,"z":1}],"c":{"x":0,"y":true}}');
    assert.equal(canonicalJson(a), canonicalJson(b));
    assert.equal(canonicalJson([2, 1]), "[2,1]");
    assert.equal(canonicalJson({ s: "é\n\u2028" }), JSON.stringify({ s: "é\n\u2028" }));
  });

  it("orders keys by code point, not UTF-16 unit", () => {
    // U+FFFF sorts before U+10000, though its UTF-16 unit is larger than the high surrogate.
    assert.equal(canonicalJson({ "\u{10000}": 1, "\uffff": 2 }), '{"\uffff":2,"\u{10000}":1}');
    assert.equal(canonicalJson({ b: 1, B: 2, a: 3, "": 4 }), '{"":4,"B":2,"a":3,"b":1}');
  });

  it("is stable through a JSON round trip of a manifest", () => {
    const m = {
      ...draft(),
      model: { file: "model.onnx", sha256: "0".repeat(64), bytes: 1, opset: 17 },
    };
    const again = JSON.parse(JSON.stringify(m, null, 2));
    assert.equal(canonicalJson(again), canonicalJson(m));
    assert.deepEqual(signedPayload(again), signedPayload(m));
  });

  it("omits undefined properties but rejects values JSON cannot hold", () => {
    assert.equal(canonicalJson({ a: 1, b: undefined }), '{"a":1}');
    for (const bad of [
      NaN,
      Infinity,
      [1, undefined],
      { f: () => 1 },
      new Date(0),
      1n,
      new Float32Array(2),
    ]) {
      assert.throws(() => canonicalJson({ x: bad }), CanonicalJsonError);
    }
    assert.throws(() => canonicalJson({ a: [NaN] }), /\$\.a\[0\] is NaN/);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    assert.throws(() => canonicalJson(cyclic), /refers back to itself/);
  });

  it("signedPayload ignores the signature field", () => {
    const m = signManifest(
      { ...draft(), model: { file: "m", sha256: "0".repeat(64), bytes: 1, opset: 1 } },
      keyPair().privateKey,
    );
    const { signature: _s, ...rest } = m;
    assert.deepEqual(signedPayload(m), signedPayload(rest));
  });
});

describe("signatures", () => {
  it("keyIdOf is 16 hex digits, equal for a private key and its public key", () => {
    const { privateKey, publicKey } = keyPair();
    assert.match(keyIdOf(publicKey), /^[0-9a-f]{16}$/);
    assert.equal(keyIdOf(privateKey), keyIdOf(publicKey));
    assert.notEqual(keyIdOf(keyPair().publicKey), keyIdOf(publicKey));
  });

  it("sign then verify succeeds and returns the key id", async () => {
    const { dir, manifest } = await bundle();
    const { privateKey, publicKey } = keyPair();
    const signed = signManifest(manifest, privateKey);
    assert.equal(signed.signature?.alg, "ed25519");
    assert.equal(
      verifyManifestSignature(signed, [keyPair().publicKey, publicKey]),
      keyIdOf(publicKey),
    );
    writeManifest(dir, signed);
    const b = await readBundle(dir, { trustedKeys: [publicKey], requireSignature: true });
    assert.equal(b.signedBy, keyIdOf(publicKey));
    assert.deepEqual(b.modelBytes, MODEL);
    assert.equal(b.manifest.name, "ser-tdnn-4class");
  });

  it("any change to a signed field breaks the signature", async () => {
    const { dir, manifest } = await bundle();
    const { privateKey, publicKey } = keyPair();
    const signed = signManifest(manifest, privateKey);
    const edits: ((m: Manifest) => void)[] = [
      (m) => {
        m.labels[1] = "joyful";
      },
      (m) => {
        m.normalization.mean[5] += 1e-9;
      },
      (m) => {
        m.features.hopLength = 320;
      },
      (m) => {
        m.version = "1.2.1";
      },
      (m) => {
        m.reference[0].tolerance = 0.5;
      },
    ];
    for (const edit of edits) {
      const m = structuredClone(signed);
      edit(m);
      assert.throws(() => verifyManifestSignature(m, [publicKey]), { code: "bad-signature" });
      writeManifest(dir, m);
      await rejectsCode(
        readBundle(dir, { trustedKeys: [publicKey], requireSignature: true }),
        "bad-signature",
        /modified after signing/,
      );
    }
  });

  it("a key that is not trusted gives untrusted-key, naming the key ids", async () => {
    const { dir, manifest } = await bundle();
    const signer = keyPair();
    const other = keyPair().publicKey;
    writeManifest(dir, signManifest(manifest, signer.privateKey));
    await rejectsCode(
      readBundle(dir, { trustedKeys: [other], requireSignature: true }),
      "untrusted-key",
      new RegExp(`${keyIdOf(signer.publicKey)}.*${keyIdOf(other)}`),
    );
    // Signed but checked without keys: required signatures need a key.
    await rejectsCode(readBundle(dir, { requireSignature: true }), "untrusted-key");
    // Not required and no keys: hash-only, not verified.
    const b = await readBundle(dir, { requireSignature: false });
    assert.equal(b.signedBy, undefined);
  });

  it("a tampered signature gives bad-signature", async () => {
    const { dir, manifest } = await bundle();
    const { privateKey, publicKey } = keyPair();
    const signed = signManifest(manifest, privateKey);
    const sig = signed.signature;
    assert.ok(sig);
    const bytes = Buffer.from(sig.value, "base64");
    bytes[10] ^= 1;
    for (const value of [bytes.toString("base64"), "not base64!", sig.value.slice(0, 20)]) {
      writeManifest(dir, { ...signed, signature: { ...sig, value } });
      await rejectsCode(
        readBundle(dir, { trustedKeys: [publicKey], requireSignature: true }),
        "bad-signature",
      );
    }
  });

  it("an unsigned bundle is refused when a signature is required", async () => {
    const { dir } = await bundle();
    await rejectsCode(
      readBundle(dir, { trustedKeys: [keyPair().publicKey], requireSignature: true }),
      "unsigned",
      /not signed/,
    );
    assert.equal((await readBundle(dir, { requireSignature: false })).signedBy, undefined);
  });

  it("verifies a signed manifest when keys are given even if not required", async () => {
    const { dir, manifest } = await bundle();
    const { privateKey } = keyPair();
    writeManifest(dir, signManifest(manifest, privateKey));
    await rejectsCode(
      readBundle(dir, { trustedKeys: [keyPair().publicKey], requireSignature: false }),
      "untrusted-key",
    );
  });

  it("loadPublicKeys reads a file or every .pub of a directory, and rejects private keys", async () => {
    const dir = tmp();
    const a = keyPair();
    const b = keyPair();
    writeFileSync(join(dir, "a.pub"), a.publicKey.export({ type: "spki", format: "pem" }));
    writeFileSync(join(dir, "b.pub"), b.publicKey.export({ type: "spki", format: "pem" }));
    writeFileSync(join(dir, "notes.txt"), "not a key");
    const keys = await loadPublicKeys(dir);
    assert.deepEqual(keys.map(keyIdOf), [keyIdOf(a.publicKey), keyIdOf(b.publicKey)]);
    assert.equal((await loadPublicKeys(join(dir, "a.pub"))).length, 1);
    writeFileSync(join(dir, "a.key"), a.privateKey.export({ type: "pkcs8", format: "pem" }));
    await rejectsCode(loadPublicKeys(join(dir, "a.key")), "key-invalid", /private key/);
    await rejectsCode(loadPublicKeys(join(dir, "notes.txt")), "key-invalid");
    await rejectsCode(loadPublicKeys(join(dir, "nope.pub")), "key-missing");
    await rejectsCode(loadPublicKeys(tmp()), "key-missing", /no \*\.pub/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).publicKey;
    writeFileSync(join(dir, "rsa.pem"), rsa.export({ type: "spki", format: "pem" }));
    await rejectsCode(loadPublicKeys(join(dir, "rsa.pem")), "key-invalid", /not Ed25519/);
  });
});

describe("readBundle / writeBundle", () => {
  it("writeBundle records the model's sha256 and size and writes pretty JSON", async () => {
    const { dir, manifest } = await bundle();
    assert.equal(manifest.model.bytes, MODEL.length);
    assert.match(manifest.model.sha256, /^[0-9a-f]{64}$/);
    assert.equal(manifest.model.file, "model.onnx");
    assert.deepEqual(new Uint8Array(readFileSync(join(dir, "model.onnx"))), MODEL);
    const text = readFileSync(join(dir, "manifest.json"), "utf8");
    assert.equal(text, manifestText(manifest));
    assert.ok(text.endsWith("}\n") && text.includes('\n  "schema"'));
    assert.deepEqual((await readBundle(dir, { requireSignature: false })).manifest, manifest);
  });

  it("writeBundle refuses a draft that the device would reject", async () => {
    const d = draft();
    d.normalization.std = [1, 2];
    await rejectsCode(
      writeBundle(join(tmp(), "b"), MODEL, d),
      "manifest-invalid",
      /normalization\.std must be 40 numbers/,
    );
  });

  it("changed model bytes give hash-mismatch, truncated ones size-mismatch", async () => {
    const { dir, manifest } = await bundle();
    const changed = new Uint8Array(MODEL);
    changed[100] ^= 0xff;
    writeFileSync(join(dir, "model.onnx"), changed);
    await rejectsCode(
      readBundle(dir, { requireSignature: false }),
      "hash-mismatch",
      new RegExp(
        `expected sha256 ${manifest.model.sha256}, found [0-9a-f]{64}.*truncated or was modified`,
      ),
    );
    writeFileSync(join(dir, "model.onnx"), MODEL.subarray(0, 1000));
    await rejectsCode(
      readBundle(dir, { requireSignature: false }),
      "size-mismatch",
      /expected 4096 bytes, found 1000/,
    );
  });

  it("a signed bundle with a changed model still fails on the hash", async () => {
    const { dir, manifest } = await bundle();
    const { privateKey, publicKey } = keyPair();
    writeManifest(dir, signManifest(manifest, privateKey));
    writeFileSync(join(dir, "model.onnx"), new Uint8Array(MODEL).reverse());
    await rejectsCode(
      readBundle(dir, { trustedKeys: [publicKey], requireSignature: true }),
      "hash-mismatch",
    );
  });

  it("missing manifest, missing model, invalid JSON and wrong schema give clear errors", async () => {
    await rejectsCode(
      readBundle(tmp(), { requireSignature: false }),
      "manifest-missing",
      /manifest\.json: not found/,
    );
    await rejectsCode(
      readBundle(join(tmp(), "nope"), { requireSignature: false }),
      "manifest-missing",
    );
    const { dir, manifest } = await bundle();
    writeFileSync(join(dir, "manifest.json"), '{"schema": "ser-edge/manifest@1",');
    await rejectsCode(
      readBundle(dir, { requireSignature: false }),
      "manifest-invalid",
      /is not valid JSON/,
    );
    writeManifest(dir, { ...manifest, schema: "ser-edge/manifest@2" });
    await rejectsCode(
      readBundle(dir, { requireSignature: false }),
      "manifest-invalid",
      /"ser-edge\/manifest@2" is not supported/,
    );
    writeManifest(dir, { hello: "world" });
    await rejectsCode(
      readBundle(dir, { requireSignature: false }),
      "manifest-invalid",
      /not a ser-edge model manifest/,
    );
    writeManifest(dir, [1, 2]);
    await rejectsCode(
      readBundle(dir, { requireSignature: false }),
      "manifest-invalid",
      /not a JSON object/,
    );
    writeManifest(dir, manifest);
    writeFileSync(join(dir, "model.onnx"), "");
    await rejectsCode(readBundle(dir, { requireSignature: false }), "size-mismatch");
    writeManifest(dir, { ...manifest, model: { ...manifest.model, file: "other.onnx" } });
    await rejectsCode(
      readBundle(dir, { requireSignature: false }),
      "model-missing",
      /other\.onnx: not found/,
    );
  });

  it("names every structural problem of a manifest", async () => {
    const { dir, manifest } = await bundle();
    const cases: [(m: Record<string, unknown> & Manifest) => void, RegExp][] = [
      [
        (m) => Reflect.deleteProperty(m, "labels"),
        /labels must be a non-empty array of non-empty strings \(got missing\)/,
      ],
      [
        (m) => {
          m.labels = [];
        },
        /labels must be a non-empty array/,
      ],
      [
        (m) => {
          m.labels = ["a", ""];
        },
        /labels must be a non-empty array of non-empty strings/,
      ],
      [
        (m) => {
          m.labels = ["a", "a", "b", "c"];
        },
        /labels must be unique/,
      ],
      [(m) => Reflect.deleteProperty(m, "features"), /features must be an object/],
      [(m) => Reflect.deleteProperty(m.features, "nMfcc"), /features\.nMfcc must be a number/],
      [
        (m) => Object.assign(m.features, { preEmphasis: 0.97 }),
        /features\.preEmphasis must be a parameter this agent knows/,
      ],
      [
        (m) => {
          m.features.nFft = 500;
        },
        /nFft must be a power of two/,
      ],
      [
        (m) => {
          m.normalization.mean = m.normalization.mean.slice(1);
        },
        /normalization\.mean must be 40 numbers long, not 39/,
      ],
      [
        (m) => {
          m.representation = "mel";
        },
        /normalization\.mean must be 64 numbers long/,
      ],
      [
        (m) => {
          m.representation = "mfcc+pitch";
        },
        /normalization\.mean must be 42 numbers long/,
      ],
      [
        (m) => {
          (m as { representation: string }).representation = "pitch";
        },
        /representation must be "mfcc", or "mel", or "mfcc\+pitch"/,
      ],
      [
        (m) => {
          m.normalization.std[0] = 0;
        },
        /normalization\.std must be all positive/,
      ],
      [(m) => Reflect.deleteProperty(m, "input"), /input must be an object/],
      [
        (m) => Reflect.deleteProperty(m.outputs, "probabilities"),
        /outputs\.probabilities must be an object/,
      ],
      [
        (m) => {
          m.model.sha256 = "abc";
        },
        /model\.sha256 must be 64 lowercase hex digits/,
      ],
      [
        (m) => {
          m.model.file = "../evil.onnx";
        },
        /model\.file must be a file name inside the bundle/,
      ],
      [(m) => Reflect.deleteProperty(m, "reference"), /reference must be an array/],
      [
        (m) => {
          m.reference[0].input = [1, 2];
        },
        /reference\[0\]\.input must be 120 numbers long/,
      ],
      [
        (m) => {
          m.reference[0].expected = [1];
        },
        /reference\[0\]\.expected must be 4 numbers long/,
      ],
      [
        (m) => {
          m.metrics.validation = { ...m.metrics.validation, confusion: [[1]] } as never;
        },
        /metrics\.validation\.confusion must be a 4x4/,
      ],
      [
        (m) => Reflect.deleteProperty(m.training.splits, "train"),
        /training\.splits\.train must be an object/,
      ],
      [
        (m) => {
          m.signature = { alg: "rsa" } as never;
        },
        /signature must be an object/,
      ],
    ];
    for (const [edit, pattern] of cases) {
      const m = structuredClone(manifest) as Record<string, unknown> & Manifest;
      edit(m);
      writeManifest(dir, m);
      await rejectsCode(readBundle(dir, { requireSignature: false }), "manifest-invalid", pattern);
    }
    // Several problems at once are all reported.
    const m = structuredClone(manifest) as unknown as Record<string, unknown>;
    Reflect.deleteProperty(m, "name");
    m.minFrames = 0;
    writeManifest(dir, m);
    await rejectsCode(
      readBundle(dir, { requireSignature: false }),
      "manifest-invalid",
      /name must be .*; minFrames must be an integer >= 1/,
    );
  });
});

describe("checkGraphIo", () => {
  it("accepts the manifest's names and names both sides on a mismatch", async () => {
    const { manifest } = await bundle();
    checkGraphIo(manifest, ["features"], ["logits", "probabilities"]);
    checkGraphIo(manifest, ["features"], ["probabilities", "logits", "embedding"]);
    const bad = (i: string[], o: string[]) =>
      assert.throws(
        () => checkGraphIo(manifest, i, o),
        (err: unknown) => {
          assert.ok(err instanceof ModelError);
          assert.equal(err.code, "io-mismatch");
          assert.match(
            err.message,
            /inputs \["input_1"\].*manifest's input \["features"\] and outputs \["probabilities", "logits"\]/,
          );
          return true;
        },
      );
    bad(["input_1"], ["probabilities", "logits"]);
    assert.throws(() => checkGraphIo(manifest, ["features"], ["probabilities"]), {
      code: "io-mismatch",
    });
    assert.throws(
      () => checkGraphIo(manifest, ["features", "lengths"], ["probabilities", "logits"]),
      { code: "io-mismatch" },
    );
  });
});

async function run(argv: string[]) {
  let out = "";
  let err = "";
  const code = await trainerMain(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("ser-trainer keygen / sign / verify", () => {
  it("keygen writes a 0600 private key and a public key, and refuses to overwrite", async () => {
    const base = join(tmp(), "keys", "release");
    const r = await run(["keygen", "--out", base]);
    assert.equal(r.code, 0, r.err);
    const id = /key id ([0-9a-f]{16})/.exec(r.out)?.[1];
    assert.ok(id, r.out);
    const [pub] = await loadPublicKeys(`${base}.pub`);
    assert.equal(keyIdOf(pub), id);
    assert.match(readFileSync(`${base}.key`, "utf8"), /^-----BEGIN PRIVATE KEY-----/);
    if (process.platform !== "win32") assert.equal(statSync(`${base}.key`).mode & 0o777, 0o600);

    const before = readFileSync(`${base}.key`, "utf8");
    const again = await run(["keygen", "--out", base]);
    assert.equal(again.code, 1);
    assert.match(again.err, /already exist.*--force/);
    assert.equal(readFileSync(`${base}.key`, "utf8"), before);

    const forced = await run(["keygen", "--out", `${base}.key`, "--force"]);
    assert.equal(forced.code, 0, forced.err);
    assert.notEqual(readFileSync(`${base}.key`, "utf8"), before);
    if (process.platform !== "win32") assert.equal(statSync(`${base}.key`).mode & 0o777, 0o600);
    assert.ok(!existsSync(`${base}.key.key`));

    assert.equal((await run(["keygen"])).code, 2);
  });

  it("sign and verify end to end, with exit codes", async () => {
    const { dir, manifest } = await bundle();
    const keys = join(tmp(), "k");
    const gen = await run(["keygen", "--out", join(keys, "release")]);
    assert.equal(gen.code, 0, gen.err);
    const id = /key id ([0-9a-f]{16})/.exec(gen.out)?.[1] ?? "";

    let r = await run(["verify", dir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /^OK .*ser-tdnn-4class 1\.2\.0.*unsigned\n$/);
    r = await run(["verify", dir, "--key", join(keys, "release.pub")]);
    assert.equal(r.code, 1);
    assert.match(r.err, /^ser-trainer verify: .*manifest\.json: the bundle is not signed/);

    r = await run(["sign", dir, "--key", join(keys, "release.key")]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`with key ${id}`));
    const signed = JSON.parse(readFileSync(join(dir, "manifest.json"), "utf8")) as Manifest;
    assert.equal(signed.signature?.keyId, id);
    assert.deepEqual({ ...signed, signature: undefined }, { ...manifest, signature: undefined });

    r = await run(["verify", dir, "--key", join(keys, "release.pub")]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`^OK .*ser-tdnn-4class 1\\.2\\.0.*signed by ${id}\\n$`));
    r = await run(["verify", dir, "--key", keys]);
    assert.equal(r.code, 0, r.err);
    r = await run(["verify", dir]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`signed by ${id} \\(not checked: no --key\\)`));

    // Another key: untrusted; a tampered manifest: bad signature.
    const other = join(tmp(), "other");
    assert.equal((await run(["keygen", "--out", other])).code, 0);
    r = await run(["verify", dir, "--key", `${other}.pub`]);
    assert.equal(r.code, 1);
    assert.match(r.err, /not trusted/);
    writeManifest(dir, { ...signed, labels: ["neutral", "happy", "sad", "furious"] });
    r = await run(["verify", dir, "--key", join(keys, "release.pub")]);
    assert.equal(r.code, 1);
    assert.match(r.err, /does not match/);

    // Re-signing replaces the signature; a changed model is refused before signing.
    r = await run(["sign", dir, "--key", `${other}.key`]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, new RegExp(`replaced the signature by ${id}`));
    assert.equal((await run(["verify", dir, "--key", `${other}.pub`])).code, 0);
    writeFileSync(join(dir, "model.onnx"), MODEL.subarray(1));
    const signedText = readFileSync(join(dir, "manifest.json"), "utf8");
    r = await run(["sign", dir, "--key", join(keys, "release.key")]);
    assert.equal(r.code, 1);
    assert.match(r.err, /size-mismatch|expected 4096 bytes, found 4095/);
    assert.equal(readFileSync(join(dir, "manifest.json"), "utf8"), signedText);
    r = await run(["verify", dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /truncated or was modified/);
  });

  it("usage errors exit 2", async () => {
    assert.equal((await run(["sign", "somewhere"])).code, 2);
    assert.equal((await run(["sign"])).code, 2);
    assert.equal((await run(["verify"])).code, 2);
    const r = await run(["sign", tmp(), "--key", join(tmp(), "missing.key")]);
    assert.equal(r.code, 1);
    assert.match(r.err, /missing\.key: no such key file/);
  });
});

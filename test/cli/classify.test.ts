import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "@ser-edge/agent/audio";
import {
  applyStats,
  columnStats,
  extractFeatures,
  resolveFeatureParams,
} from "@ser-edge/agent/features";
import {
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestDraft,
  ModelRunner,
  manifestText,
  type ReferenceCase,
  signManifest,
  writeBundle,
} from "@ser-edge/agent/model";
import * as tf from "@tensorflow/tfjs";
import { main } from "../../agent/src/cli.js";
import { defaultModelDir } from "../../agent/src/config/load.js";
import { statsFromFiles } from "../../agent/src/pipeline/normalizer.js";
import { createSpeechTrimmer } from "../../agent/src/pipeline/trim.js";
import {
  exportModel,
  INPUT_NAME,
  LOGITS_NAME,
  PROBABILITIES_NAME,
} from "../../trainer/src/onnx/export.js";
import { OPSET } from "../../trainer/src/onnx/graph.js";
import {
  ARCH_DEFAULTS,
  initParams,
  type ModelSpec,
  minFrames,
  parameterCount,
} from "../../trainer/src/train/models.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const AUDIO = join(ROOT, "test/fixtures/audio");
const DEMO = join(ROOT, "demo");
const FIXTURES = [
  "03-01-01-01-01-01-01.flac",
  "03-01-02-01-01-01-05.flac",
  "03-01-03-02-02-01-10.flac",
  "03-01-05-02-01-01-02.flac",
].map((f) => join(AUDIO, f));
const NEUTRAL = FIXTURES[0]; // 52,853 samples at 16 kHz
const TONE = join(AUDIO, "tone-1khz-16k-mono.mp3"); // exactly 16,000 samples

const LABELS = ["neutral", "happy", "sad", "angry"];
const PARAMS = resolveFeatureParams();
const WIDTH = PARAMS.nMfcc;
const SPEC: ModelSpec = { ...ARCH_DEFAULTS.tdnn, hidden: 32, inputDim: WIDTH, classes: 4 };

async function mfccOf(file: string): Promise<Float32Array> {
  const audio = await readAudioFile(file, { targetRate: PARAMS.sampleRate });
  return extractFeatures(audio.samples, PARAMS).mfcc;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Seeded random weights with non-zero biases, so that outputs depend on the input. */
function weights(): Map<string, Float32Array> {
  const vars = initParams(SPEC, 7);
  const out = new Map([...vars].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));
  for (const [k, v] of out) {
    if (k.endsWith("/b")) for (let i = 0; i < v.length; i++) v[i] = 0.1 * Math.sin(i);
  }
  tf.dispose([...vars.values()]);
  return out;
}

function draft(kind: "global" | "speaker", mean: number[], std: number[]): ManifestDraft {
  const split = { speakers: ["ravdess:01"], clips: 4, labelCounts: { neutral: 1 } };
  return {
    schema: MANIFEST_SCHEMA,
    name: `test-tdnn-${kind}`,
    version: "0.0.1",
    createdAt: "2025-01-01T00:00:00.000Z",
    labels: [...LABELS],
    representation: "mfcc",
    features: PARAMS,
    normalization: { kind, mean, std },
    minFrames: minFrames(SPEC),
    input: { name: INPUT_NAME, type: "float32", shape: ["batch", "frames", WIDTH] },
    outputs: {
      probabilities: { name: PROBABILITIES_NAME, type: "float32", shape: ["batch", 4] },
      logits: { name: LOGITS_NAME, type: "float32", shape: ["batch", 4] },
    },
    architecture: { arch: "tdnn", description: "test", parameters: parameterCount(SPEC) },
    training: {
      corpora: ["ravdess"],
      dataHash: "0".repeat(64),
      command: "test",
      epochs: 1,
      seed: 7,
      splits: { train: split },
    },
    metrics: {},
    quantization: { kind: "none" },
    model: { opset: OPSET },
    reference: [],
  };
}

interface Built {
  dir: string;
  manifest: Manifest;
  bytes: Uint8Array;
}

/**
 * A real bundle: the trainer's ONNX export of a small TDNN, normalisation statistics of the
 * fixtures, and reference cases measured by running the model, as the exporter does.
 */
async function buildBundle(
  dir: string,
  kind: "global" | "speaker",
  stats: { mean: number[]; std: number[] },
  fixtureFeatures: Float32Array[],
  wrongReference = false,
): Promise<Built> {
  const bytes = exportModel(SPEC, WEIGHTS, {
    name: "test",
    producerVersion: "0.0.0",
    metadata: { labels: LABELS.join(",") },
  });
  const d = draft(kind, stats.mean, stats.std);
  const first = await writeBundle(dir, bytes, d);
  const runner = await ModelRunner.create(bytes, first);
  const colStats = { mean: Float64Array.from(stats.mean), std: Float64Array.from(stats.std) };
  const reference: ReferenceCase[] = [];
  for (const [i, f] of fixtureFeatures.slice(0, 2).entries()) {
    const frames = 64;
    const x = applyStats(f, WIDTH, colStats).subarray(100 * WIDTH, (100 + frames) * WIDTH);
    const expected = Array.from(await runner.probabilities(x, frames));
    if (wrongReference && i === 1) expected[2] += 0.001;
    reference.push({
      description: `fixture ${i}, ${frames} frames`,
      frames,
      input: Array.from(x),
      expected,
      tolerance: 1e-4,
    });
  }
  await runner.release();
  const manifest = await writeBundle(dir, bytes, { ...d, reference });
  return { dir, manifest, bytes };
}

let WEIGHTS: Map<string, Float32Array>;
let GLOBAL: Built;
let SPEAKER: Built;
let BAD_REFERENCE: Built;
const tmp = () => mkdtempSync(join(tmpdir(), "ser-classify-"));

async function run(argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  const jsonl = !argv.includes("text");
  const lines = jsonl
    ? out
        .trim()
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l))
    : [];
  return { code, out, err, lines };
}

/** The pipeline written out by hand: decode, MFCC, (x - mean) / std, ONNX Runtime. */
async function byHand(b: Built, files: string[], stats?: { mean: number[]; std: number[] }) {
  const feats = await Promise.all(files.map(mfccOf));
  const s = stats ?? b.manifest.normalization;
  const col = { mean: Float64Array.from(s.mean), std: Float64Array.from(s.std) };
  const runner = await ModelRunner.create(b.bytes, b.manifest);
  const out: number[][] = [];
  for (const f of feats) {
    out.push(Array.from(await runner.probabilities(applyStats(f, WIDTH, col), f.length / WIDTH)));
  }
  await runner.release();
  return out;
}

const round4 = (p: number) => Math.round(p * 1e4) / 1e4;

describe("ser-agent classify", () => {
  before(async () => {
    WEIGHTS = weights();
    const feats = await Promise.all(FIXTURES.map(mfccOf));
    const s = columnStats(concat(feats), WIDTH);
    const stats = { mean: Array.from(s.mean), std: Array.from(s.std) };
    const root = tmp();
    GLOBAL = await buildBundle(join(root, "global"), "global", stats, feats);
    SPEAKER = await buildBundle(join(root, "speaker"), "speaker", stats, feats);
    BAD_REFERENCE = await buildBundle(join(root, "bad-ref"), "global", stats, feats, true);
  });

  it("prints one jsonl line per file with the manifest's labels, scores and duration", async () => {
    const files = [NEUTRAL, TONE, join(DEMO, "03-01-06-02-01-01-01.wav")];
    const r = await run(["classify", ...files, "--model", GLOBAL.dir]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, "");
    assert.equal(r.lines.length, 3);
    r.lines.forEach((l, i) => {
      assert.deepEqual(Object.keys(l), ["file", "label", "confidence", "scores", "duration_ms"]);
      assert.equal(l.file, files[i]);
      assert.deepEqual(Object.keys(l.scores), LABELS);
      const sum = Object.values(l.scores as Record<string, number>).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-3, `scores sum to ${sum}`);
      const top = Math.max(...(Object.values(l.scores) as number[]));
      assert.equal(l.confidence, top);
      assert.equal(l.scores[l.label], top);
      assert.ok(Number.isInteger(l.duration_ms));
    });
    assert.equal(r.lines[0].duration_ms, 3303); // 52,853 / 16,000 s
    assert.equal(r.lines[1].duration_ms, 1000);
  });

  it("adds no transformation of its own: equals the pipeline run by hand", async () => {
    const files = [...FIXTURES, TONE];
    // A model trained on whole clips (no preprocessing.vadTrim) gets whole files by default.
    const r = await run(["classify", ...files, "--model", GLOBAL.dir]);
    assert.equal(r.code, 0, r.err);
    const expected = await byHand(GLOBAL, files);
    r.lines.forEach((l, i) => {
      assert.deepEqual(
        LABELS.map((k) => l.scores[k]),
        expected[i].map(round4),
      );
      assert.equal(l.label, LABELS[expected[i].indexOf(Math.max(...expected[i]))]);
    });
  });

  it("--trim cuts leading and trailing non-speech with the agent's VAD, as the device would", async () => {
    const files = [NEUTRAL, TONE];
    const r = await run(["classify", ...files, "--model", GLOBAL.dir, "--trim"]);
    assert.equal(r.code, 0, r.err);
    const trimmer = await createSpeechTrimmer();
    const trimmed: Float32Array[] = [];
    for (const f of files) {
      const audio = await readAudioFile(f, { targetRate: 16000 });
      const t = await trimmer.trim(audio.samples);
      trimmed.push(t.samples);
      // The RAVDESS clip starts and ends with silence; a pure tone holds no speech: kept whole.
      if (f === NEUTRAL) assert.ok(t.trimmed && t.samples.length < 0.8 * audio.samples.length);
      else assert.equal(t.samples.length, audio.samples.length);
    }
    await trimmer.dispose();
    const runner = await ModelRunner.create(GLOBAL.bytes, GLOBAL.manifest);
    const s = GLOBAL.manifest.normalization;
    const col = { mean: Float64Array.from(s.mean), std: Float64Array.from(s.std) };
    for (const [i, samples] of trimmed.entries()) {
      const { mfcc, frames } = extractFeatures(samples, PARAMS);
      const p = await runner.probabilities(applyStats(mfcc, WIDTH, col), frames);
      assert.deepEqual(
        LABELS.map((k) => r.lines[i].scores[k]),
        Array.from(p).map(round4),
      );
      assert.equal(r.lines[i].duration_ms, i === 0 ? 3303 : 1000, "duration of the whole file");
    }
    await runner.release();
  });

  it("searches a directory, reports a corrupt file and classifies the others, exit 1", async () => {
    const dir = tmp();
    cpSync(NEUTRAL, join(dir, "a.flac"));
    writeFileSync(
      join(dir, "b-broken.wav"),
      Uint8Array.from({ length: 1000 }, (_, i) => (i * 97 + 13) % 256),
    );
    cpSync(TONE, join(dir, "c.mp3"));
    const r = await run(["classify", dir, "--model", GLOBAL.dir]);
    assert.equal(r.code, 1);
    assert.equal(r.lines.length, 3);
    assert.equal(r.lines[0].file, join(dir, "a.flac"));
    assert.ok(r.lines[0].label);
    assert.deepEqual(Object.keys(r.lines[1]), ["file", "error"]);
    assert.match(r.lines[1].error, /b-broken\.wav: /);
    assert.equal(r.lines[2].duration_ms, 1000);
    assert.match(r.err, /1 of 3 files could not be used/);
  });

  it("prints aligned text lines with --format text", async () => {
    const r = await run(["classify", NEUTRAL, TONE, "--model", GLOBAL.dir, "--format", "text"]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trim().split("\n");
    assert.equal(lines.length, 2);
    for (const l of lines)
      assert.match(l, /^(neutral|happy {2}|sad {4}|angry {2}) {2}[ \d]{3}\.\d% /);
    assert.match(lines[1], / {2}1\.00 s {2}.*tone-1khz-16k-mono\.mp3$/);
    assert.equal(lines[0].indexOf("%"), lines[1].indexOf("%"));
  });

  it("refuses a bundle whose model was altered, before any file", async () => {
    const dir = join(tmp(), "b");
    cpSync(GLOBAL.dir, dir, { recursive: true });
    const bytes = readFileSync(join(dir, "model.onnx"));
    bytes[bytes.length - 10] ^= 0xff;
    writeFileSync(join(dir, "model.onnx"), bytes);
    const r = await run(["classify", NEUTRAL, "--model", dir]);
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.match(r.err, /model\.onnx: expected sha256 [0-9a-f]{64}, found/);
  });

  it("refuses a model that fails its self-test", async () => {
    const r = await run(["classify", NEUTRAL, "--model", BAD_REFERENCE.dir]);
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.match(r.err, /self-test failed on reference case "fixture 1, 64 frames"/);
    assert.match(r.err, /differs by 0\.00100 \(tolerance 0\.0001\)/);
    assert.match(r.err, /does not compute what the trainer measured/);
  });

  it("--key refuses an unsigned bundle and accepts one signed by that key", async () => {
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const keyFile = join(tmp(), "publisher.pub");
    writeFileSync(keyFile, publicKey.export({ type: "spki", format: "pem" }));
    let r = await run(["classify", NEUTRAL, "--model", GLOBAL.dir, "--key", keyFile]);
    assert.equal(r.code, 1);
    assert.equal(r.out, "");
    assert.match(r.err, /not signed but a signature is required/);

    const dir = join(tmp(), "signed");
    cpSync(GLOBAL.dir, dir, { recursive: true });
    writeFileSync(
      join(dir, "manifest.json"),
      manifestText(signManifest(GLOBAL.manifest, privateKey)),
    );
    r = await run(["classify", NEUTRAL, "--model", dir, "--key", keyFile]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.lines.length, 1);
  });

  it("--speaker-stats files normalises a speaker model with the files' pooled statistics", async () => {
    const files = [
      "03-01-01-01-01-01-17.flac",
      "03-01-03-02-01-01-18.flac",
      "03-01-04-02-01-01-20.flac",
    ].map((f) => join(DEMO, f));
    const withModel = await run(["classify", ...files, "--model", SPEAKER.dir, "--no-trim"]);
    assert.equal(withModel.code, 0);
    assert.equal(withModel.err.trim().split("\n").length, 1);
    assert.match(withModel.err, /^warning: .*per-speaker normalisation.*--speaker-stats files/);
    const withFiles = await run([
      "classify",
      ...files,
      "--model",
      SPEAKER.dir,
      "--speaker-stats",
      "files",
      "--no-trim",
    ]);
    assert.equal(withFiles.code, 0, withFiles.err);
    assert.equal(withFiles.err, "");
    assert.notDeepEqual(
      withFiles.lines.map((l) => l.scores),
      withModel.lines.map((l) => l.scores),
    );
    // Pooled statistics: columnStats over the concatenation, which the by-hand run uses.
    const feats = await Promise.all(files.map(mfccOf));
    const pooled = columnStats(concat(feats), WIDTH);
    assert.deepEqual(statsFromFiles(feats, WIDTH).stats, pooled);
    const expected = await byHand(SPEAKER, files, {
      mean: Array.from(pooled.mean),
      std: Array.from(pooled.std),
    });
    withFiles.lines.forEach((l, i) => {
      assert.deepEqual(
        LABELS.map((k) => l.scores[k]),
        expected[i].map(round4),
      );
    });
  });

  it("refuses --speaker-stats files for a global model, and bad options", async () => {
    let r = await run(["classify", NEUTRAL, "--model", GLOBAL.dir, "--speaker-stats", "files"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /uses global statistics/);
    r = await run(["classify", NEUTRAL, "--model", GLOBAL.dir, "--format", "xml"]);
    assert.equal(r.code, 2);
    r = await run(["classify", "--model", GLOBAL.dir]);
    assert.equal(r.code, 2);
    assert.match(r.err, /give at least one audio file/);
  });

  describe("default model", () => {
    const saved = process.env.SER_MODEL_DIR;
    after(() => {
      if (saved === undefined) delete process.env.SER_MODEL_DIR;
      else process.env.SER_MODEL_DIR = saved;
    });

    it("is <repo>/models/default, overridable by SER_MODEL_DIR", async () => {
      assert.equal(defaultModelDir(), join(ROOT, "models/default"));
      process.env.SER_MODEL_DIR = GLOBAL.dir;
      let r = await run(["classify", NEUTRAL]);
      assert.equal(r.code, 0, r.err);
      process.env.SER_MODEL_DIR = join(tmp(), "missing");
      r = await run(["classify", NEUTRAL]);
      assert.equal(r.code, 1);
      assert.match(r.err, /no model bundle at .*missing \(SER_MODEL_DIR\); pass --model DIR/);
    });
  });
});

import { createHash } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FeatureExtractor } from "@ser-edge/agent/features";
import {
  MANIFEST_SCHEMA,
  type Manifest,
  type ManifestDraft,
  type ReferenceCase,
  readManifest,
  type SetMetrics,
  sha256Hex,
  writeBundle,
} from "@ser-edge/agent/model";
import { splitPart } from "../datasets/summary.js";
import type { Clip } from "../datasets/types.js";
import type { Metrics } from "../eval/metrics.js";
import { buildModel, INPUT_NAME, LOGITS_NAME, PROBABILITIES_NAME } from "../onnx/export.js";
import { OPSET } from "../onnx/graph.js";
import { encodeModel } from "../onnx/proto.js";
import { CALIBRATION_METHODS, type CalibrationMethod, calibrate } from "../quantize/calibrate.js";
import { planQuantization } from "../quantize/plan.js";
import { type ActivationType, quantizeQdq } from "../quantize/qdq.js";
import type { Example } from "../train/batches.js";
import { FeatureCache } from "../train/cache.js";
import { examples, type Loaded, loadAll, type StatsFor, speakerStats } from "../train/examples.js";
import { minFrames, parameterCount } from "../train/models.js";
import { describeArch } from "../train/run.js";
import { maxScoreDiff, metricsOf, scoreOnnx } from "./evaluate.js";
import { readRun, resolveClips, type TrainedRun } from "./run-dir.js";

export interface ExportConfig {
  runDir: string;
  outDir: string;
  name: string;
  version: string;
  /** false: an fp32 bundle. */
  int8: boolean;
  /** "auto": try every method, keep the best validation UAR (needs a validation set). */
  calibration: CalibrationMethod | "auto";
  activations: ActivationType;
  calibrationClips: number;
  /** Corpus directories, when the run's recorded ones moved. */
  data?: string[];
  cacheDir: string;
  /** A bundle of the same recipe trained without the validation speakers: its metrics are ours. */
  metricsFrom?: string;
}

export interface CalibrationTrial {
  method: CalibrationMethod;
  uar: number;
  accuracy: number;
  maxProbDiff: number;
}

export interface ExportResult {
  manifest: Manifest;
  fp32Bytes: number;
  fp32Uar?: number;
  /** The run's own tfjs validation UAR, which the fp32 ONNX model must reproduce. */
  tfjsUar?: number;
  trials: CalibrationTrial[];
  chosen?: CalibrationMethod;
}

const REFERENCE_FRAMES = 64;

function setMetrics(m: Metrics): SetMetrics {
  return {
    uar: m.uar,
    accuracy: m.accuracy,
    macroF1: m.macroF1,
    clips: m.n,
    confusion: m.confusion,
  };
}

/** Every k-th training example in path order, spread over speakers and labels. */
function calibrationSet(train: Example[], n: number): Example[] {
  const sorted = [...train].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const step = Math.max(1, sorted.length / n);
  const out: Example[] = [];
  for (let i = 0; i < sorted.length && out.length < n; i += step) out.push(sorted[Math.floor(i)]);
  return out;
}

/** sha256 over the sorted content hashes of the training clips: which audio trained the model. */
function dataHash(items: Loaded[]): string {
  const h = createHash("sha256");
  for (const hash of items.map((i) => i.hash).sort()) h.update(`${hash}\n`);
  return h.digest("hex");
}

/**
 * Short, rounded slices of real inputs with the expected output of the exported model, so a
 * device can self-test the model (and its ONNX Runtime) before trusting it.
 */
async function referenceCases(
  modelBytes: Uint8Array,
  manifest: Manifest,
  pool: Example[],
  tolerance: number,
): Promise<ReferenceCase[]> {
  const width = manifest.input.shape.at(-1) as number;
  const picks = [0, Math.floor(pool.length / 2), pool.length - 1].map((i) => pool[i]);
  const cases: { description: string; frames: number; input: number[] }[] = picks.map((ex) => {
    const frames = Math.min(REFERENCE_FRAMES, ex.frames);
    const start = Math.floor((ex.frames - frames) / 2);
    const slice = ex.x.subarray(start * width, (start + frames) * width);
    return {
      description: `${ex.id.split("/").pop()}: ${frames} frames from frame ${start}`,
      frames,
      input: Array.from(slice, (v) => Math.round(v * 1e4) / 1e4),
    };
  });
  const asExamples = cases.map((c) => ({
    x: Float32Array.from(c.input),
    frames: c.frames,
    label: 0,
    id: c.description,
  }));
  const scores = await scoreOnnx(modelBytes, manifest, asExamples);
  return cases.map((c, i) => ({
    ...c,
    expected: Array.from(scores[i], (v) => Math.round(v * 1e6) / 1e6),
    tolerance,
  }));
}

/** The manifest a bundle of `modelBytes` will carry (hash included, unsigned). */
function manifestFor(draft: ManifestDraft, modelBytes: Uint8Array): Manifest {
  return {
    ...draft,
    model: {
      file: "model.onnx",
      sha256: sha256Hex(modelBytes),
      bytes: modelBytes.length,
      opset: draft.model.opset,
    },
  };
}

/** A finished run to a bundle: ONNX export, verification in ONNX Runtime, int8, manifest. */
export async function exportRun(
  config: ExportConfig,
  log: (line: string) => void,
): Promise<ExportResult> {
  const run = await readRun(config.runDir);
  const cfg = { ...config, name: config.name || `ser-edge-${run.spec.arch}` };
  const clips = await resolveClips(run, cfg.data);
  const cache = new FeatureCache(cfg.cacheDir);
  const extractor = new FeatureExtractor(run.featureParams);
  const feed = {
    featureParams: run.featureParams,
    representation: run.representation,
    trim: run.trim,
  };
  const train = await loadAll(clips.train, cache, feed, extractor, "train", log);
  const validation = await loadAll(clips.validation, cache, feed, extractor, "validation", log);
  const width = run.spec.inputDim;
  const global = { mean: run.normalization.mean, std: run.normalization.std };
  const bySpeaker =
    run.normalization.kind === "speaker" ? speakerStats([...train, ...validation], width) : null;
  const statsFor: StatsFor = (clip) => bySpeaker?.get(clip.speaker) ?? global;
  const trainEx = examples(train, run.labels, statsFor);
  const valEx = examples(validation, run.labels, statsFor);

  const metadata = {
    name: cfg.name,
    version: cfg.version,
    labels: run.labels.join(","),
    representation: run.representation,
    feature_params: JSON.stringify(run.featureParams),
    normalization: run.normalization.kind,
  };
  const fpModel = buildModel(run.spec, run.weights, {
    name: cfg.name,
    producerVersion: cfg.version,
    metadata,
  });
  const fpBytes = encodeModel(fpModel);
  const draft = baseDraft(run, cfg, clips, train);
  const fpManifest = manifestFor(draft, fpBytes);

  const result: ExportResult = { manifest: fpManifest, fp32Bytes: fpBytes.length, trials: [] };
  let fpScores: Float32Array[] = [];
  if (valEx.length) {
    fpScores = await scoreOnnx(fpBytes, fpManifest, valEx);
    const m = metricsOf(fpScores, valEx, run.labels);
    result.fp32Uar = m.uar;
    result.tfjsUar = run.metrics.get("validation")?.uar;
    log(
      `fp32 ONNX: validation UAR ${(100 * m.uar).toFixed(2)}% ` +
        `(the run measured ${result.tfjsUar === undefined ? "?" : (100 * result.tfjsUar).toFixed(2)}% in tfjs), ${fpBytes.length} bytes`,
    );
    draft.metrics = { validation: setMetrics(m) };
  }

  let bytes = fpBytes;
  if (cfg.int8) {
    const plan = planQuantization(fpModel.graph);
    const calSet = calibrationSet(trainEx, cfg.calibrationClips);
    log(`calibrating ${plan.activations.length} activations on ${calSet.length} training clips`);
    const cal = await calibrate(fpModel, plan.activations, calSet, INPUT_NAME);
    const methods =
      cfg.calibration === "auto" ? CALIBRATION_METHODS : [cfg.calibration as CalibrationMethod];
    if (cfg.calibration === "auto" && !valEx.length) {
      throw new Error(
        "--calibration auto chooses by validation UAR; this run has no validation set",
      );
    }
    let best: { method: CalibrationMethod; bytes: Uint8Array; metrics?: Metrics } | undefined;
    for (const method of methods) {
      const qBytes = encodeModel(quantizeQdq(fpModel, plan, cal.ranges(method), cfg.activations));
      if (!valEx.length) {
        best = { method, bytes: qBytes };
        continue;
      }
      const scores = await scoreOnnx(qBytes, manifestFor(draft, qBytes), valEx);
      const m = metricsOf(scores, valEx, run.labels);
      const trial = {
        method,
        uar: m.uar,
        accuracy: m.accuracy,
        maxProbDiff: maxScoreDiff(scores, fpScores),
      };
      result.trials.push(trial);
      log(
        `int8 ${method}: validation UAR ${(100 * m.uar).toFixed(2)}%, ` +
          `max |p - p_fp32| ${trial.maxProbDiff.toFixed(4)}`,
      );
      if (!best?.metrics || m.uar > best.metrics.uar) best = { method, bytes: qBytes, metrics: m };
    }
    if (!best) throw new Error("no calibration method given");
    bytes = best.bytes;
    result.chosen = best.method;
    if (best.metrics) draft.metrics = { validation: setMetrics(best.metrics) };
    draft.quantization = {
      kind: "static-int8-qdq",
      weights: "int8 per-channel symmetric",
      activations: cfg.activations === "int8" ? "int8 asymmetric" : "uint8 asymmetric",
      calibration: {
        method: best.method,
        clips: calSet.length,
        from: `training split, every ${Math.max(1, Math.round(trainEx.length / calSet.length))}th clip`,
      },
      ...(result.fp32Uar !== undefined ? { fp32Uar: result.fp32Uar } : {}),
    };
    log(
      `int8: ${best.method} calibration, ${bytes.length} bytes (${((100 * bytes.length) / fpBytes.length).toFixed(1)}% of fp32)`,
    );
  }
  if (run.normalization.kind === "speaker" && valEx.length && draft.metrics.validation) {
    const plain = examples(validation, run.labels, () => global);
    const scores = await scoreOnnx(bytes, manifestFor(draft, bytes), plain);
    draft.metrics.unadapted = setMetrics(metricsOf(scores, plain, run.labels));
    log(
      `validation with the manifest's statistics instead of each speaker's: UAR ${(100 * draft.metrics.unadapted.uar).toFixed(2)}%`,
    );
  }
  if (cfg.metricsFrom) {
    const other = await readManifest(cfg.metricsFrom);
    draft.metrics = {
      ...other.metrics,
      note:
        `measured on the validation speakers of ${other.name} ${other.version}, the same recipe ` +
        `trained without them (${other.training.splits.validation?.speakers.join(", ") ?? "?"})`,
    };
    if (other.quantization.fp32Uar !== undefined && draft.quantization.kind !== "none") {
      draft.quantization.fp32Uar = other.quantization.fp32Uar;
    }
  }
  const tolerance = cfg.int8 ? 0.02 : 1e-4;
  const pool = valEx.length ? valEx : trainEx;
  draft.reference = await referenceCases(bytes, manifestFor(draft, bytes), pool, tolerance);
  result.manifest = await writeBundle(cfg.outDir, bytes, draft);
  await writeFile(
    join(cfg.runDir, `export-${cfg.int8 ? "int8" : "fp32"}.json`),
    `${JSON.stringify({ ...result, manifest: undefined, outDir: cfg.outDir }, null, 2)}\n`,
  );
  return result;
}

function baseDraft(
  run: TrainedRun,
  cfg: ExportConfig,
  clips: { train: Clip[]; validation: Clip[]; test: Clip[] },
  train: Loaded[],
): ManifestDraft {
  const spec = run.spec;
  return {
    schema: MANIFEST_SCHEMA,
    name: cfg.name,
    version: cfg.version,
    createdAt: new Date().toISOString(),
    labels: run.labels,
    representation: run.representation,
    features: run.featureParams,
    normalization: run.normalization,
    minFrames: minFrames(spec),
    preprocessing: { vadTrim: run.trim },
    input: { name: INPUT_NAME, type: "float32", shape: ["batch", "frames", spec.inputDim] },
    outputs: {
      probabilities: { name: PROBABILITIES_NAME, type: "float32", shape: ["batch", spec.classes] },
      logits: { name: LOGITS_NAME, type: "float32", shape: ["batch", spec.classes] },
    },
    architecture: {
      arch: spec.arch,
      description: describeArch(spec),
      parameters: parameterCount(spec),
    },
    training: {
      corpora: [...new Set(clips.train.map((c) => c.corpus))].sort(),
      dataHash: dataHash(train),
      command: run.config.command ?? "(not recorded)",
      epochs: run.bestEpoch + 1,
      seed: run.config.loop.seed,
      splits: {
        train: splitPart(clips.train, run.labels),
        ...(clips.validation.length ? { validation: splitPart(clips.validation, run.labels) } : {}),
        ...(clips.test.length ? { test: splitPart(clips.test, run.labels) } : {}),
      },
    },
    metrics: {},
    quantization: { kind: "none" },
    model: { opset: OPSET },
    reference: [],
  };
}

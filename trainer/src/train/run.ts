import { mkdir, readFile, writeFile } from "node:fs/promises";
import { cpus, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { Worker } from "node:worker_threads";
import { FeatureExtractor, type FeatureParams } from "@ser-edge/agent/features";
import * as tf from "@tensorflow/tfjs";
import { type AugmentConfig, Augmenter, createRng, seedFrom } from "../augment/index.js";
import type { LabelOptions } from "../datasets/labels.js";
import { splitPart } from "../datasets/summary.js";
import type { Clip, Emotion } from "../datasets/types.js";
import type { EvaluatedSet, ReportInput } from "../eval/report.js";
import { writeReport } from "../eval/write.js";
import type { WorkerSetup } from "./augment-worker.js";
import { type BackendName, initBackend } from "./backend.js";
import { cropFrames, type Example } from "./batches.js";
import { FeatureCache } from "./cache.js";
import { loadOptimizer, loadWeights, saveOptimizer, saveWeights, toTensors } from "./checkpoint.js";
import { examples, type Loaded, loadAll, type StatsFor, speakerStats } from "./examples.js";
import { evaluateSet, type LoopConfig, type LoopState, trainLoop } from "./loop.js";
import {
  ARCH_DEFAULTS,
  type Arch,
  type ModelSpec,
  type Pooling,
  parameterCount,
} from "./models.js";
import { globalStats, type Representation, representationWidth } from "./representation.js";

/** Everything a run needs, as given on the command line (and written to config.json). */
export interface RunConfig {
  arch: Arch;
  hidden?: number;
  dropout?: number;
  /** Corpus directories and label options as given, so that export can find the clips again. */
  data?: string[];
  labelOptions?: LabelOptions;
  scan?: { includeSong: boolean; speakerRegex?: string };
  /** The command line that started the run, for the model's manifest. */
  command?: string;
  /** Absent: the architecture's default (plain statistics). */
  pooling?: Pooling;
  /** ModelSpec.utteranceMean. */
  utteranceMean?: boolean;
  /**
   * "global": one mean/std from the training split (shipped with the model). "speaker": each
   * speaker's own statistics over all their clips (unlabelled), the classic speaker-independent
   * SER normalisation; on a device it becomes running statistics of the voices it hears.
   */
  normalize: "global" | "speaker";
  labels: Emotion[];
  featureParams: FeatureParams;
  representation: Representation;
  /** Train on VAD-trimmed clips (see FeatureConfig.trim); the manifest tells the device. */
  trim?: boolean;
  loop: LoopConfig;
  /** null: no augmentation. */
  augment: AugmentConfig | null;
  /** Use a worker thread (the second core) for augmentation and features. */
  worker: boolean;
  backend?: BackendName;
  cacheDir: string;
  outDir: string;
}

export interface RunSets {
  train: Clip[];
  validation: Clip[];
  test: Clip[];
  /** Extra evaluation sets, e.g. another corpus. */
  extra?: { name: string; clips: Clip[] }[];
  /** Speaker lists etc., written as split.json. */
  manifest: unknown;
}

export interface RunResult {
  outDir: string;
  backend: BackendName;
  validationUar: number;
  bestEpoch: number;
  wallSeconds: number;
  peakRssMb: number;
  sets: EvaluatedSet[];
}

/** Trains, evaluates and writes a run directory; resumable from its checkpoint. */
export async function runTraining(
  cfg: RunConfig,
  sets: RunSets,
  log: (line: string) => void,
  opts: { resume?: boolean } = {},
): Promise<RunResult> {
  const started = performance.now();
  let peakRss = process.memoryUsage().rss;
  const sampleRss = () => {
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
  };
  const rssTimer = setInterval(sampleRss, 1000);
  rssTimer.unref();
  const outDir = resolve(cfg.outDir);
  const ckptDir = join(outDir, "checkpoint");
  await mkdir(ckptDir, { recursive: true });
  const backend = await initBackend(cfg.backend);
  log(`tfjs backend: ${backend}${backend === "wasm" ? " (SIMD, 1 thread)" : ""}`);
  const labels = cfg.labels as string[];
  const width = representationWidth(cfg.representation, cfg.featureParams);
  const spec: ModelSpec = {
    ...ARCH_DEFAULTS[cfg.arch],
    ...(cfg.hidden ? { hidden: cfg.hidden } : {}),
    ...(cfg.dropout !== undefined ? { dropout: cfg.dropout } : {}),
    ...(cfg.pooling ? { pooling: cfg.pooling } : {}),
    ...(cfg.utteranceMean ? { utteranceMean: true } : {}),
    inputDim: width,
    classes: labels.length,
  };
  log(`model: ${cfg.arch}, ${parameterCount(spec).toLocaleString("en")} parameters`);
  await writeFile(join(outDir, "config.json"), `${JSON.stringify({ ...cfg, spec }, null, 2)}\n`);
  await writeFile(join(outDir, "split.json"), `${JSON.stringify(sets.manifest, null, 2)}\n`);

  const cache = new FeatureCache(cfg.cacheDir);
  const extractor = new FeatureExtractor(cfg.featureParams);
  const train = await loadAll(sets.train, cache, cfg, extractor, "train", log);
  const validation = await loadAll(sets.validation, cache, cfg, extractor, "validation", log);
  const test = await loadAll(sets.test, cache, cfg, extractor, "test", log);
  sampleRss();
  // Normalisation from the training split only (validation and test stay unseen).
  const stats = globalStats(
    train.map((t) => t.features),
    width,
  );
  const bySpeaker =
    cfg.normalize === "speaker" ? speakerStats([...train, ...validation, ...test], width) : null;
  const statsFor: StatsFor = (clip) => bySpeaker?.get(clip.speaker) ?? stats;
  const trainEx = examples(train, labels, statsFor);
  const valEx = examples(validation, labels, statsFor);
  const testEx = examples(test, labels, statsFor);

  const source = await epochSource(cfg, train, trainEx, statsFor, width, log);

  let resume: Parameters<typeof trainLoop>[7];
  if (opts.resume) {
    try {
      const state = JSON.parse(await readFile(join(ckptDir, "state.json"), "utf8")) as LoopState;
      const swaCount = (state as LoopState & { swaCount?: number }).swaCount ?? 0;
      resume = {
        state,
        params: toTensors(spec, await loadWeights(ckptDir, "last")),
        optimizer: await loadOptimizer(ckptDir),
        ...(swaCount > 0
          ? { average: { values: await loadWeights(ckptDir, "average"), count: swaCount } }
          : {}),
      };
      log(
        `resuming after epoch ${state.epoch + 1} (best UAR ${(100 * state.bestUar).toFixed(1)}%)`,
      );
    } catch (err) {
      throw new Error(`cannot resume from ${ckptDir}: ${(err as Error).message}`);
    }
  }
  const result = await trainLoop(
    spec,
    cfg.loop,
    trainEx,
    valEx,
    labels,
    source.next,
    {
      log,
      onEpoch: async (state, params, optimizer, average) => {
        sampleRss();
        const values = new Map([...params].map(([k, v]) => [k, v.dataSync() as Float32Array]));
        await saveWeights(ckptDir, "last", spec, values);
        await saveOptimizer(ckptDir, optimizer);
        if (average.count > 0) {
          const avg = new Map([...average.values].map(([k, v]) => [k, Float32Array.from(v)]));
          await saveWeights(ckptDir, "average", spec, avg);
        }
        await writeFile(
          join(ckptDir, "state.json"),
          JSON.stringify({ ...state, swaCount: average.count }),
        );
        if (state.bestEpoch === state.epoch) await saveWeights(ckptDir, "best", spec, values);
      },
    },
    resume,
  );
  await source.close();

  // Evaluate the best weights on every set and write the run's artefacts.
  const best = result.best.size ? result.best : await loadWeights(ckptDir, "best");
  const bestTensors = toTensors(spec, best);
  const evaluated: EvaluatedSet[] = [];
  const val = valEx.length ? evaluateSet(spec, bestTensors, valEx, labels) : null;
  if (val) evaluated.push({ name: "validation", metrics: val.metrics });
  if (testEx.length)
    evaluated.push({
      name: "test",
      metrics: evaluateSet(spec, bestTensors, testEx, labels).metrics,
    });
  for (const extra of sets.extra ?? []) {
    const items = await loadAll(extra.clips, cache, cfg, extractor, extra.name, log);
    const extraStats = cfg.normalize === "speaker" ? speakerStats(items, width) : null;
    const ex = examples(items, labels, (clip) => extraStats?.get(clip.speaker) ?? stats);
    evaluated.push({
      name: extra.name,
      metrics: evaluateSet(spec, bestTensors, ex, labels).metrics,
    });
  }
  tf.dispose([...bestTensors.values()]);
  await saveWeights(outDir, "weights", spec, best);
  await writeFile(
    join(outDir, "model.json"),
    `${JSON.stringify(
      {
        format: "ser-edge-model@1",
        spec,
        labels,
        representation: cfg.representation,
        trim: cfg.trim ?? false,
        featureParams: cfg.featureParams,
        normalization: { kind: cfg.normalize, mean: stats.mean, std: stats.std },
        bestEpoch: result.state.bestEpoch,
      },
      null,
      2,
    )}\n`,
  );
  clearInterval(rssTimer);
  sampleRss();
  const wallSeconds = (performance.now() - started) / 1000;
  const report: ReportInput = {
    title: `ser-edge ${cfg.arch} on ${[...new Set(sets.train.map((c) => c.corpus))].join(", ")}`,
    createdAt: new Date().toISOString(),
    arch: describeArch(spec),
    params: parameterCount(spec),
    featureSummary: `${width} ${
      {
        mfcc: "MFCC",
        mel: "dB mel bands",
        "mfcc+pitch": "values (MFCC, log F0, voicing)",
      }[cfg.representation]
    }, ${
      cfg.featureParams.sampleRate / 1000
    } kHz, ${(1000 * cfg.featureParams.winLength) / cfg.featureParams.sampleRate} ms window / ${
      (1000 * cfg.featureParams.hopLength) / cfg.featureParams.sampleRate
    } ms hop, ${
      cfg.normalize === "speaker" ? "per-speaker" : "global (training split)"
    } mean/std normalisation`,
    split: {
      train: splitPart(sets.train, labels),
      validation: splitPart(sets.validation, labels),
      ...(sets.test.length ? { test: splitPart(sets.test, labels) } : {}),
    },
    sets: evaluated,
    history: result.state.history,
    bestEpoch: result.state.bestEpoch + 1,
    ...(cfg.loop.swa ? { averagedEpochs: result.average.count } : {}),
    backend,
    wallSeconds,
    peakRssMb: peakRss / 2 ** 20,
    notes: [
      `augmentation: ${cfg.augment ? Object.keys(cfg.augment).join(", ") : "none"}`,
      cfg.loop.swa
        ? `model: average of the weights after each of the last ${result.average.count} epochs (no epoch chosen by validation)`
        : sets.validation.length
          ? "model: the epoch with the best validation UAR (chosen on the set it is measured on: slightly optimistic)"
          : "model: the last epoch (no validation set)",
      `machine: ${cpus()[0]?.model ?? "?"} x${cpus().length}, ${(totalmem() / 2 ** 30).toFixed(0)} GB`,
    ],
  };
  await writeReport(outDir, report);
  log(
    `wrote ${join(outDir, "report.html")} and metrics.json (${wallSeconds.toFixed(0)} s, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB)`,
  );
  return {
    outDir,
    backend,
    validationUar: val ? val.metrics.uar : Number.NaN,
    bestEpoch: result.state.bestEpoch,
    wallSeconds,
    peakRssMb: peakRss / 2 ** 20,
    sets: evaluated,
  };
}

export function describeArch(spec: ModelSpec): string {
  const pooling = spec.pooling === "attentive" ? "attentive stats pooling" : "stats pooling";
  switch (spec.arch) {
    case "tdnn":
      return `TDNN (4 frame layers, width ${spec.hidden}, ${pooling}, ${spec.poolFrames * 10} ms frames)`;
    case "cnn1d":
      return `1-D CNN (3 x kernel-5 conv, width ${spec.hidden}, ${pooling})`;
    case "lstm":
      return `LSTM (${spec.hidden} units, ${spec.poolFrames * 10} ms steps, ${pooling})`;
    default:
      return `MLP on utterance mean/std features (${spec.hidden}-${spec.hidden / 2})`;
  }
}

/**
 * Training windows per epoch: plain random crops of the cached features, or augmented audio
 * re-featurised per epoch, in a worker thread when enabled (prefetching the next epoch).
 */
async function epochSource(
  cfg: RunConfig,
  train: Loaded[],
  trainEx: Example[],
  statsFor: StatsFor,
  width: number,
  log: (s: string) => void,
): Promise<{ next: (epoch: number) => Promise<Float32Array>; close: () => Promise<void> }> {
  const crop = cfg.loop.crop;
  if (!cfg.augment) {
    return {
      next: async (epoch) => {
        const out = new Float32Array(trainEx.length * crop * width);
        trainEx.forEach((ex, i) => {
          const rng = createRng(seedFrom(cfg.loop.seed, "crop", epoch, i));
          out.set(cropFrames(ex.x, ex.frames, width, crop, rng), i * crop * width);
        });
        return out;
      },
      close: async () => {},
    };
  }
  const total = train.reduce((s, t) => s + t.samples.length, 0);
  const audio = new SharedArrayBuffer(total * 4);
  const view = new Float32Array(audio);
  const offsets: number[] = [];
  const lengths: number[] = [];
  let o = 0;
  for (const t of train) {
    view.set(t.samples, o);
    offsets.push(o);
    lengths.push(t.samples.length);
    o += t.samples.length;
  }
  const setup: WorkerSetup = {
    audio,
    offsets,
    lengths,
    augment: cfg.augment,
    params: cfg.featureParams,
    representation: cfg.representation,
    stats: train.map((t) => statsFor(t.clip)),
    width,
    crop,
    seed: cfg.loop.seed,
  };
  if (!cfg.worker) {
    const { prepareEpoch } = await import("./augment-worker.js");
    const augmenter = await Augmenter.create(cfg.augment);
    const extractor = new FeatureExtractor(cfg.featureParams);
    return {
      next: async (epoch) => prepareEpoch(setup, augmenter, extractor, epoch),
      close: async () => {},
    };
  }
  const isTs = import.meta.url.endsWith(".ts");
  const worker = new Worker(new URL(`./augment-worker.${isTs ? "ts" : "js"}`, import.meta.url), {
    workerData: setup,
    execArgv: isTs ? ["--conditions=source", "--import", "tsx"] : [],
  });
  log("augmentation and features: worker thread (second core)");
  const pending = new Map<number, (data: Float32Array) => void>();
  let failure: Error | undefined;
  worker.on("message", (m: { epoch: number; data: Float32Array }) =>
    pending.get(m.epoch)?.(m.data),
  );
  worker.on("error", (err) => {
    failure = err;
    for (const [, resolveEpoch] of pending) resolveEpoch(new Float32Array(0));
  });
  return {
    next: (epoch) =>
      new Promise<Float32Array>((resolveEpoch, reject) => {
        if (failure) return reject(failure);
        pending.set(epoch, (data) => {
          pending.delete(epoch);
          if (failure) reject(new Error(`augmentation worker failed: ${failure.message}`));
          else resolveEpoch(data);
        });
        worker.postMessage({ epoch });
      }),
    close: async () => {
      await worker.terminate();
    },
  };
}

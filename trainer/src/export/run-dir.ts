import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import type { FeatureParams } from "@ser-edge/agent/features";
import { applyLabelOptions } from "../datasets/labels.js";
import { scanDatasets } from "../datasets/scan.js";
import type { Clip } from "../datasets/types.js";
import type { Metrics } from "../eval/metrics.js";
import { loadWeights } from "../train/checkpoint.js";
import type { ModelSpec } from "../train/models.js";
import type { Representation } from "../train/representation.js";
import type { RunConfig } from "../train/run.js";

/** A finished training run as export needs it: the model, how it was fed, and its clips. */
export interface TrainedRun {
  dir: string;
  spec: ModelSpec;
  labels: string[];
  representation: Representation;
  /** Trained on VAD-trimmed clips. */
  trim: boolean;
  featureParams: FeatureParams;
  normalization: { kind: "global" | "speaker"; mean: number[]; std: number[] };
  /** 0-based. */
  bestEpoch: number;
  config: RunConfig;
  weights: Map<string, Float32Array>;
  /** Clip paths per set, as split.json lists them. */
  split: { train: string[]; validation: string[]; test: string[] };
  /** The training run's own (tfjs) evaluation, by set name. */
  metrics: Map<string, Metrics>;
}

async function readJson<T>(path: string, what: string): Promise<T> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    throw new Error(`${path}: missing; ${what}`);
  }
  try {
    return JSON.parse(text) as T;
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message}); ${what}`);
  }
}

export async function readRun(dir: string): Promise<TrainedRun> {
  const hint = "is this a finished `ser-trainer train` run directory?";
  const model = await readJson<{
    format: string;
    spec: ModelSpec;
    labels: string[];
    representation: Representation;
    trim?: boolean;
    featureParams: FeatureParams;
    normalization: TrainedRun["normalization"];
    bestEpoch: number;
  }>(join(dir, "model.json"), hint);
  if (model.format !== "ser-edge-model@1") {
    throw new Error(`${join(dir, "model.json")}: unknown format ${model.format}; ${hint}`);
  }
  const config = await readJson<RunConfig>(join(dir, "config.json"), hint);
  const split = await readJson<{ sets: Record<string, { clips: string[] }> }>(
    join(dir, "split.json"),
    hint,
  );
  const metricsFile = await readJson<{ sets: { name: string; metrics: Metrics }[] }>(
    join(dir, "metrics.json"),
    hint,
  );
  return {
    dir,
    spec: model.spec,
    labels: model.labels,
    representation: model.representation,
    trim: model.trim ?? false,
    featureParams: model.featureParams,
    normalization: model.normalization,
    bestEpoch: model.bestEpoch,
    config,
    weights: await loadWeights(dir, "weights"),
    split: {
      train: split.sets.train?.clips ?? [],
      validation: split.sets.validation?.clips ?? [],
      test: split.sets.test?.clips ?? [],
    },
    metrics: new Map(metricsFile.sets.map((s) => [s.name, s.metrics])),
  };
}

/**
 * Finds the run's clips again (labels and speakers come from the corpus readers, as in
 * training). `data` overrides the directories the run recorded.
 */
export async function resolveClips(
  run: TrainedRun,
  data?: string[],
): Promise<{ train: Clip[]; validation: Clip[]; test: Clip[] }> {
  const dirs = data ?? run.config.data;
  if (!dirs?.length) {
    throw new Error(`${run.dir}: the run does not record its corpus directories; give --data DIR`);
  }
  const scan = await scanDatasets(dirs, {
    includeSong: run.config.scan?.includeSong ?? false,
    ...(run.config.scan?.speakerRegex ? { speakerRegex: run.config.scan.speakerRegex } : {}),
  });
  const byPath = new Map(
    applyLabelOptions(scan.clips, run.config.labelOptions).map((c) => [resolve(c.path), c]),
  );
  const find = (paths: string[]) =>
    paths.map((p) => {
      const clip = byPath.get(resolve(p));
      if (!clip) {
        throw new Error(
          `${p}: a clip of the run is not in ${dirs.join(", ")}; give the run's corpora with --data`,
        );
      }
      return clip;
    });
  return {
    train: find(run.split.train),
    validation: find(run.split.validation),
    test: find(run.split.test),
  };
}

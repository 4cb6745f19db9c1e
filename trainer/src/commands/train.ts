import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, intOption, numberOption, UsageError } from "@ser-edge/agent/cli-kit";
import { DEFAULT_AUGMENT, LIGHT_AUGMENT } from "../augment/index.js";
import { applyLabelOptions, labelSet } from "../datasets/labels.js";
import { scanDatasets } from "../datasets/scan.js";
import {
  assertSpeakerDisjoint,
  crossCorpus,
  kFoldBySpeaker,
  randomSplit,
  type Split,
  splitBySpeaker,
  splitManifest,
} from "../datasets/splits.js";
import type { CorpusName } from "../datasets/types.js";
import { formatMetricsTable } from "../eval/metrics.js";
import type { BackendName } from "../train/backend.js";
import { ARCHS, type Arch, type Pooling } from "../train/models.js";
import { isRepresentation, REPRESENTATIONS, type Representation } from "../train/representation.js";
import { runTraining } from "../train/run.js";
import { labelOptionsFrom } from "./datasets.js";
import { featureOptions, featureOptionsHelp, featureParamsFrom } from "./feature-options.js";

/** The command as run, defaults spelled out: what a manifest records to reproduce the run. */
function commandLine(positionals: string[], values: Record<string, unknown>): string {
  const quote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`);
  const parts = ["ser-trainer", "train", ...positionals.map(quote)];
  for (const [k, v] of Object.entries(values)) {
    if (v === true) parts.push(`--${k}`);
    else if (typeof v === "string") parts.push(`--${k}`, quote(v));
    else if (Array.isArray(v)) for (const x of v) parts.push(`--${k}`, quote(String(x)));
  }
  return parts.join(" ");
}

function swaFraction(v: unknown): number {
  const f = numberOption(v, "swa", 0.3);
  if (!(f > 0 && f <= 1)) throw new UsageError("--swa must be a fraction in (0, 1]");
  return f;
}

// For options given on the command line (absent ones are left out of the config, so no default).
function positive(v: unknown, name: string): number {
  const x = numberOption(v, name, Number.NaN);
  if (!(x > 0)) throw new UsageError(`--${name} must be a number above 0`);
  return x;
}

function fraction(v: unknown, name: string): number {
  const x = numberOption(v, name, Number.NaN);
  if (!(x >= 0 && x < 1)) throw new UsageError(`--${name} must be a fraction in [0, 1)`);
  return x;
}

const list = (v: unknown) =>
  typeof v === "string" && v.trim() ? v.split(",").map((s) => s.trim()) : undefined;

export const trainCommand: Command = {
  name: "train",
  summary: "train a speaker-independent model on corpora; write a run directory with a report",
  usage: `Usage: ser-trainer train DIR... [options]
       ser-trainer train --data DIR [--data DIR...] [options]

Scans DIR... for corpora (as \`ser-trainer datasets\` shows them), splits them by speaker, trains
a model with tfjs and writes --out: config.json, split.json, checkpoint/, weights.bin +
model.json (best epoch), metrics.json and report.html. Interrupted runs continue with --resume.

Split (always by speaker unless --random-split):
  --val-speakers IDS     comma-separated speaker ids for validation (e.g. ravdess:17,ravdess:18);
                         "none" trains on every speaker for exactly --epochs (a final model)
  --test-speakers IDS    speaker ids held out for a final test
  --val-fraction F       else: this fraction of speakers for validation (default 0.2)
  --test-fraction F      and this fraction for test (default 0)
  --test-corpus NAME     cross-corpus: train on the other corpora, test on this one (shared labels)
  --kfold K              speaker-independent K-fold cross-validation: K runs in --out/fold-N,
                         every speaker validated once; prints the mean and spread of UAR
  --random-split         split clips at random: leaks speakers, inflates accuracy (warns)
Labels:
  --merge A=B,...        merge labels, e.g. calm=neutral
  --labels L,...         keep only these labels
Model and training:
  --arch ${ARCHS.join("|")}   architecture (default tdnn)
  --hidden N             hidden width (default per architecture)
  --pooling stats|attentive   frames to utterance: mean/std, or attention-weighted mean/std
                         (tdnn, cnn1d, lstm; default stats)
  --utterance-mean       subtract each utterance's mean from every feature but c0, in the model
  --epochs N             at most N epochs (default 45)
  --batch N              batch size (default 32)
  --lr X                 peak learning rate (default 0.002)
  --patience N           early stop after N epochs without a better validation UAR (default 15)
  --crop N               training window in 10 ms frames (default 300)
  --seed N               seed for everything random (default 1)
  --swa F                the model is the average of the weights of the last F of the epochs
                         (e.g. 0.3): no early stopping and no epoch picked by validation UAR
  --mixup A              blend every batch with a shuffled copy of itself, inputs and targets,
                         by lambda ~ Beta(A, A) (e.g. 0.4); off by default
  --label-smoothing X    smooth the targets by X (e.g. 0.1); off by default
  --weight-decay X       decoupled weight decay of the weight matrices (AdamW; e.g. 0.05); off
  --augment light|default|none   augmentation strength (default light: measured better)
  --no-augment           same as --augment none
  --noise-dir DIR        also mix in noise recordings from DIR
  --no-balance           plain cross-entropy instead of class-balanced
  --representation mfcc|mel|mfcc+pitch   model input (default mfcc); mfcc+pitch adds F0 and
                         voicing per frame
  --trim                 cut each clip's leading and trailing non-speech with the agent's
                         voice-activity detector, as the device's segmenter does
  --normalize global|speaker  feature statistics: the training split's, or each speaker's own
  --dropout X            dropout rate (default per architecture)
${featureOptionsHelp}
Run:
  --out DIR              run directory (default runs/<arch>-<time>)
  --resume               continue the run in --out from its last checkpoint
  --cache DIR            decoded-audio and feature cache (default .cache/ser-edge)
  --backend tensorflow|wasm|cpu   force a tfjs backend (default: fastest available)
  --no-worker            augment on the main thread instead of a worker thread
  --include-song         RAVDESS: also use the song clips
  --speaker-regex RE     generic layout: speaker id from the file name (first group)
`,
  options: {
    ...featureOptions,
    data: { type: "string", multiple: true },
    "val-speakers": { type: "string" },
    "test-speakers": { type: "string" },
    "val-fraction": { type: "string" },
    "test-fraction": { type: "string" },
    "test-corpus": { type: "string" },
    "random-split": { type: "boolean", default: false },
    kfold: { type: "string" },
    merge: { type: "string", multiple: true },
    labels: { type: "string" },
    arch: { type: "string", default: "tdnn" },
    hidden: { type: "string" },
    pooling: { type: "string" },
    "utterance-mean": { type: "boolean" },
    epochs: { type: "string" },
    batch: { type: "string" },
    lr: { type: "string" },
    patience: { type: "string" },
    crop: { type: "string" },
    seed: { type: "string" },
    swa: { type: "string" },
    mixup: { type: "string" },
    "label-smoothing": { type: "string" },
    "weight-decay": { type: "string" },
    "no-augment": { type: "boolean", default: false },
    augment: { type: "string", default: "light" },
    "noise-dir": { type: "string" },
    "no-balance": { type: "boolean", default: false },
    representation: { type: "string", default: "mfcc" },
    trim: { type: "boolean", default: false },
    normalize: { type: "string", default: "global" },
    dropout: { type: "string" },
    out: { type: "string" },
    resume: { type: "boolean", default: false },
    cache: { type: "string", default: ".cache/ser-edge" },
    backend: { type: "string" },
    "no-worker": { type: "boolean", default: false },
    "include-song": { type: "boolean", default: false },
    "speaker-regex": { type: "string" },
  },
  async run(values, positionals, io) {
    const dirs = [...positionals, ...((values.data as string[] | undefined) ?? [])];
    if (dirs.length === 0) throw new UsageError("give at least one corpus directory");
    const arch = values.arch as Arch;
    if (!ARCHS.includes(arch)) throw new UsageError(`--arch must be one of ${ARCHS.join(", ")}`);
    const representation = values.representation as Representation;
    if (!isRepresentation(representation)) {
      throw new UsageError(`--representation must be one of ${REPRESENTATIONS.join(", ")}`);
    }
    const pooling = values.pooling as Pooling | undefined;
    if (pooling !== undefined && pooling !== "stats" && pooling !== "attentive") {
      throw new UsageError("--pooling must be stats or attentive");
    }
    if (pooling === "attentive" && arch === "mlp") {
      throw new UsageError("--pooling attentive needs a frame-level model (tdnn, cnn1d, lstm)");
    }
    const backend = values.backend as BackendName | undefined;
    if (backend && !["tensorflow", "wasm", "cpu"].includes(backend)) {
      throw new UsageError("--backend must be tensorflow, wasm or cpu");
    }
    const seed = intOption(values.seed, "seed", 1);
    const labelOpts = labelOptionsFrom(values);
    const log = (line: string) => io.err(`${line}\n`);

    const scan = await scanDatasets(dirs, {
      includeSong: Boolean(values["include-song"]),
      ...(typeof values["speaker-regex"] === "string"
        ? { speakerRegex: values["speaker-regex"] }
        : {}),
    });
    for (const w of scan.warnings) log(`warning: ${w}`);
    for (const s of scan.skipped) log(`skipped ${s.path}: ${s.reason}`);
    const clips = applyLabelOptions(scan.clips, labelOpts);
    if (clips.length === 0) throw new Error(`no usable clips in ${dirs.join(", ")}`);
    let labels = labelSet(labelOpts).filter((l) => clips.some((c) => c.label === l));

    // "none": train on every speaker for exactly --epochs (a final model; its accuracy comes from
    // a held-out run of the same recipe).
    const noValidation = values["val-speakers"] === "none";
    if (noValidation && values.epochs === undefined) {
      throw new UsageError("--val-speakers none trains a fixed number of epochs: give --epochs N");
    }
    let split: Split;
    const kfold = values.kfold === undefined ? 0 : intOption(values.kfold, "kfold", 5);
    if (values.kfold !== undefined && kfold < 2) throw new UsageError("--kfold needs K >= 2");
    const testCorpus = values["test-corpus"] as string | undefined;
    if (values["random-split"]) {
      const r = randomSplit(
        clips,
        { validation: numberOption(values["val-fraction"], "val-fraction", 0.2) },
        seed,
      );
      log(`WARNING: ${r.warning}`);
      split = r;
    } else if (testCorpus) {
      const trainCorpora = [...new Set(clips.map((c) => c.corpus))].filter((c) => c !== testCorpus);
      const cc = crossCorpus(clips, trainCorpora as CorpusName[], testCorpus as CorpusName);
      const inner = splitBySpeaker(cc.train, {
        validation:
          list(values["val-speakers"]) ?? numberOption(values["val-fraction"], "val-fraction", 0.2),
        seed,
      });
      split = { ...inner, test: cc.test, speakers: { ...inner.speakers, test: cc.speakers.test } };
      labels = labels.filter((l) => cc.labels.includes(l));
      log(`cross-corpus: test on ${testCorpus} over ${labels.join(", ")}`);
    } else if (kfold) {
      split = {
        train: clips,
        validation: [],
        test: [],
        speakers: { train: [], validation: [], test: [] },
      };
    } else {
      split = splitBySpeaker(clips, {
        validation: noValidation
          ? []
          : (list(values["val-speakers"]) ??
            numberOption(values["val-fraction"], "val-fraction", 0.2)),
        test:
          list(values["test-speakers"]) ??
          numberOption(values["test-fraction"], "test-fraction", 0),
        seed,
      });
    }
    const outDir =
      (values.out as string | undefined) ??
      join("runs", `${arch}-${new Date().toISOString().replace(/[:.]/g, "-").slice(0, 19)}`);
    const jobs: { split: Split; outDir: string }[] = kfold
      ? kFoldBySpeaker(clips, kfold, seed).map((f) => ({
          split: { ...f, test: [], speakers: { ...f.speakers, test: [] } },
          outDir: join(outDir, `fold-${f.index + 1}`),
        }))
      : [{ split, outDir }];
    for (const job of jobs) {
      if (!values["random-split"]) assertSpeakerDisjoint(job.split);
      if (job.split.validation.length === 0 && !noValidation) {
        throw new UsageError("the validation set is empty");
      }
    }
    const noiseDir = values["noise-dir"] as string | undefined;
    const preset = values["no-augment"] ? "none" : (values.augment as string);
    if (!["default", "light", "none"].includes(preset)) {
      throw new UsageError("--augment must be default, light or none");
    }
    const base = preset === "light" ? LIGHT_AUGMENT : DEFAULT_AUGMENT;
    const augment =
      preset === "none"
        ? null
        : noiseDir
          ? {
              ...base,
              noise: {
                ...(base.noise ?? { prob: 0.5, snrDb: [10, 30] as const }),
                kinds: ["white", "pink", "folder"] as const,
                folder: noiseDir,
              },
            }
          : base;
    const uars: number[] = [];
    for (const job of jobs) {
      const { split } = job;
      log(
        `split: train ${split.train.length} clips / ${split.speakers.train.length} speakers, ` +
          `validation ${split.validation.length} / ${split.speakers.validation.length}, ` +
          `test ${split.test.length} / ${split.speakers.test.length}`,
      );
      const result = await runTraining(
        {
          arch,
          data: dirs,
          labelOptions: labelOpts,
          scan: {
            includeSong: Boolean(values["include-song"]),
            ...(typeof values["speaker-regex"] === "string"
              ? { speakerRegex: values["speaker-regex"] }
              : {}),
          },
          command: commandLine(positionals, values),
          ...(values.hidden ? { hidden: intOption(values.hidden, "hidden", 128) } : {}),
          ...(pooling ? { pooling } : {}),
          ...(values["utterance-mean"] ? { utteranceMean: true } : {}),
          labels,
          featureParams: featureParamsFrom(values),
          representation,
          ...(values.trim ? { trim: true } : {}),
          normalize: values.normalize === "speaker" ? "speaker" : "global",
          ...(values.dropout ? { dropout: numberOption(values.dropout, "dropout", 0.3) } : {}),
          loop: {
            epochs: intOption(values.epochs, "epochs", 45),
            batchSize: intOption(values.batch, "batch", 32),
            lr: numberOption(values.lr, "lr", 2e-3),
            warmupEpochs: 2,
            lrFloor: 0.05,
            patience: intOption(values.patience, "patience", 15),
            crop: intOption(values.crop, "crop", 300),
            classBalanced: !values["no-balance"],
            seed,
            ...(values.swa !== undefined ? { swa: swaFraction(values.swa) } : {}),
            ...(values.mixup !== undefined ? { mixup: positive(values.mixup, "mixup") } : {}),
            ...(values["weight-decay"] !== undefined
              ? { weightDecay: positive(values["weight-decay"], "weight-decay") }
              : {}),
            ...(values["label-smoothing"] !== undefined
              ? { labelSmoothing: fraction(values["label-smoothing"], "label-smoothing") }
              : {}),
          },
          augment,
          worker: !values["no-worker"],
          ...(backend ? { backend } : {}),
          cacheDir: values.cache as string,
          outDir: job.outDir,
        },
        {
          train: split.train,
          validation: split.validation,
          test: split.test,
          manifest: splitManifest(split),
        },
        log,
        { resume: Boolean(values.resume) },
      );
      for (const s of result.sets) {
        io.out(
          `\n${s.name}: UAR ${(100 * s.metrics.uar).toFixed(1)}%\n${formatMetricsTable(s.metrics)}\n`,
        );
      }
      io.out(
        `\nrun: ${result.outDir} (backend ${result.backend}, best epoch ${result.bestEpoch + 1}, ` +
          `${result.wallSeconds.toFixed(0)} s, peak RSS ${result.peakRssMb.toFixed(0)} MB)\n`,
      );
      uars.push(result.validationUar);
    }
    if (kfold) {
      const mean = uars.reduce((a, b) => a + b, 0) / uars.length;
      const sd = Math.sqrt(uars.reduce((a, b) => a + (b - mean) ** 2, 0) / uars.length);
      const summary = { folds: uars.length, validationUar: uars, mean, std: sd };
      await writeFile(join(outDir, "kfold.json"), `${JSON.stringify(summary, null, 2)}\n`);
      io.out(
        `\n${kfold}-fold speaker-independent validation UAR: ${(100 * mean).toFixed(1)}% ` +
          `+- ${(100 * sd).toFixed(1)} (folds: ${uars.map((u) => (100 * u).toFixed(1)).join(", ")})\n`,
      );
    }
    return 0;
  },
};

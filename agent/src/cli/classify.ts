import { stat } from "node:fs/promises";
import { readAudioFile } from "../audio/index.js";
import { defaultModelDir } from "../config/load.js";
import { FeatureExtractor } from "../features/index.js";
import { loadTrustedModel, type Manifest, type ModelRunner } from "../model/index.js";
import {
  type Classification,
  classifyUtterance,
  fixedStats,
  modelInput,
  type Normalizer,
  statsFromFiles,
} from "../pipeline/index.js";
import { createSpeechTrimmer, type SpeechTrimmer, shouldTrim } from "../pipeline/trim.js";
import { type Command, type Io, UsageError } from "./command.js";
import { expandAudioPaths } from "./files.js";

/** --model, else SER_MODEL_DIR (as for `ser-agent run`), else the default; a missing one is explained. */
export async function resolveModelDir(option: unknown): Promise<string> {
  if (typeof option === "string") return option;
  const env = process.env.SER_MODEL_DIR;
  const [dir, from] = env ? [env, "SER_MODEL_DIR"] : [defaultModelDir(), "the default model"];
  if (!(await stat(dir).catch(() => undefined))?.isDirectory()) {
    throw new Error(
      `no model bundle at ${dir} (${from}); pass --model DIR with a bundle directory (manifest.json and model.onnx, from \`ser-trainer export\`) or set SER_MODEL_DIR`,
    );
  }
  return dir;
}

interface Prepared {
  file: string;
  x: Float32Array;
  frames: number;
  durationMs: number;
}

/** Decode, resample to the model's rate, features: the model's raw input for one file. */
async function prepare(
  file: string,
  manifest: Manifest,
  ex: FeatureExtractor,
  trimmer: SpeechTrimmer | null,
): Promise<Prepared> {
  const audio = await readAudioFile(file, { targetRate: manifest.features.sampleRate });
  const samples = trimmer ? (await trimmer.trim(audio.samples)).samples : audio.samples;
  const { x, frames } = modelInput(samples, manifest, ex);
  return { file, x, frames, durationMs: Math.round(audio.durationSec * 1000) };
}

const round4 = (p: number) => Math.round(p * 1e4) / 1e4;

/** Prints results as they come, and counts failures. */
class Reporter {
  failed = 0;
  private readonly labelWidth: number;

  constructor(
    private readonly io: Io,
    private readonly format: "jsonl" | "text",
    labels: string[],
  ) {
    this.labelWidth = Math.max(...labels.map((l) => l.length));
  }

  ok(p: Prepared, c: Classification): void {
    if (this.format === "jsonl") {
      const scores = Object.fromEntries(Object.entries(c.scores).map(([l, v]) => [l, round4(v)]));
      const line = {
        file: p.file,
        label: c.label,
        confidence: round4(c.confidence),
        scores,
        duration_ms: p.durationMs,
      };
      this.io.out(`${JSON.stringify(line)}\n`);
    } else {
      const pct = `${(100 * c.confidence).toFixed(1).padStart(5)}%`;
      const secs = `${(p.durationMs / 1000).toFixed(2).padStart(7)} s`;
      this.io.out(`${c.label.padEnd(this.labelWidth)}  ${pct}  ${secs}  ${p.file}\n`);
    }
  }

  fail(file: string, err: unknown): void {
    this.failed++;
    const message = err instanceof Error ? err.message : String(err);
    if (this.format === "jsonl") this.io.out(`${JSON.stringify({ file, error: message })}\n`);
    this.io.err(`error: ${message}\n`);
  }
}

/** Normalise, run, print; a failure is that file's error line. */
async function report(p: Prepared, runner: ModelRunner, norm: Normalizer, rep: Reporter) {
  try {
    rep.ok(p, await classifyUtterance(runner, norm.apply(p.x, p.frames), p.frames));
  } catch (err) {
    rep.fail(p.file, err);
  }
}

/** One pass: each file is read, classified and printed before the next is read. */
async function classifyStreaming(
  files: string[],
  runner: ModelRunner,
  norm: Normalizer,
  rep: Reporter,
  trimmer: SpeechTrimmer | null,
): Promise<void> {
  const ex = new FeatureExtractor(runner.manifest.features);
  for (const file of files) {
    const p = await prepare(file, runner.manifest, ex, trimmer).catch((err) => rep.fail(file, err));
    if (p) await report(p, runner, norm, rep);
  }
}

/** Two passes: every readable file's features give one speaker's statistics, then classify. */
async function classifyOneSpeaker(
  files: string[],
  runner: ModelRunner,
  rep: Reporter,
  trimmer: SpeechTrimmer | null,
): Promise<void> {
  const ex = new FeatureExtractor(runner.manifest.features);
  const prepared: (Prepared | { file: string; error: unknown })[] = [];
  for (const file of files) {
    prepared.push(
      await prepare(file, runner.manifest, ex, trimmer).catch((error) => ({ file, error })),
    );
  }
  const ok = prepared.filter((p): p is Prepared => !("error" in p));
  // Statistics need frames: with no readable file, only the errors remain to report.
  const width = runner.manifest.normalization.mean.length;
  const norm = ok.length
    ? statsFromFiles(
        ok.map((p) => p.x),
        width,
      )
    : undefined;
  for (const p of prepared) {
    if ("error" in p) rep.fail(p.file, p.error);
    else if (norm) await report(p, runner, norm, rep);
  }
}

export const classifyCommand: Command = {
  name: "classify",
  summary: "recognise the emotion in audio files with a model bundle, as the device does",
  usage: `Usage: ser-agent classify FILE|DIR... [--model DIR] [--format jsonl|text]
                          [--key FILE_OR_DIR]... [--speaker-stats files|model] [--[no-]trim]

Runs each whole file through the device pipeline: decoding, resampling to the model's rate,
the agent's voice-activity detector cutting leading and trailing non-speech (when the model was
trained that way: manifest preprocessing.vadTrim), the model's features and normalisation, the
model. Prints one line per file as it goes; jsonl:
{"file","label","confidence","scores":{label: probability},"duration_ms"}. Directories are
searched for .wav/.flac/.mp3. The model is checked (sha256, and the signature with --key) and
self-tested on its reference inputs before any file. A file that cannot be used gets an
{"file","error"} line and the others go on; the exit code is 1 if any failed.

Options:
  --model DIR             model bundle (default: $SER_MODEL_DIR, else <repo>/models/default)
  --format jsonl|text     output style (default jsonl)
  --key FILE_OR_DIR       require a signature by one of these public keys (repeatable)
  --trim | --no-trim      force the voice-activity trimming on or off (default: as trained)
  --speaker-stats MODE    model: the manifest's normalisation statistics (default);
                          files: all files are one speaker, normalise with their pooled
                          statistics (for models trained with per-speaker normalisation)
`,
  options: {
    model: { type: "string" },
    format: { type: "string", default: "jsonl" },
    key: { type: "string", multiple: true },
    "speaker-stats": { type: "string" },
    trim: { type: "boolean", default: false },
    "no-trim": { type: "boolean", default: false },
  },
  async run(values, positionals, io) {
    const format = values.format as string;
    if (format !== "jsonl" && format !== "text") {
      throw new UsageError(`--format must be jsonl or text, got "${format}"`);
    }
    const statsMode = values["speaker-stats"] as string | undefined;
    if (statsMode !== undefined && statsMode !== "files" && statsMode !== "model") {
      throw new UsageError(`--speaker-stats must be files or model, got "${statsMode}"`);
    }
    if (positionals.length === 0) throw new UsageError("give at least one audio file or directory");
    const files = await expandAudioPaths(positionals);
    if (files.length === 0) throw new UsageError(`no .wav, .flac or .mp3 files in ${positionals}`);

    const dir = await resolveModelDir(values.model);
    const keys = Array.isArray(values.key) ? values.key.map(String) : [];
    const runner = await loadTrustedModel(dir, { keys });
    const trim = shouldTrim(runner.manifest, { trim: values.trim, noTrim: values["no-trim"] });
    const trimmer = trim ? await createSpeechTrimmer() : null;
    try {
      const m = runner.manifest;
      const speakerModel = m.normalization.kind === "speaker";
      if (statsMode === "files" && !speakerModel) {
        throw new UsageError(
          `--speaker-stats files applies to models trained with per-speaker normalisation; ${m.name} uses global statistics`,
        );
      }
      const rep = new Reporter(io, format, m.labels);
      if (statsMode === "files") await classifyOneSpeaker(files, runner, rep, trimmer);
      else {
        if (speakerModel) {
          io.err(
            `warning: ${m.name} was trained with per-speaker normalisation but is using the manifest's statistics; if all files are one speaker, --speaker-stats files normalises with theirs\n`,
          );
        }
        const norm = fixedStats(m.normalization.mean, m.normalization.std);
        await classifyStreaming(files, runner, norm, rep, trimmer);
      }
      if (rep.failed) io.err(`${rep.failed} of ${files.length} files could not be used\n`);
      return rep.failed ? 1 : 0;
    } finally {
      await trimmer?.dispose();
      await runner.release();
    }
  },
};

import { readAudioFile } from "../audio/index.js";
import { extractFeatures, FeatureExtractor } from "../features/index.js";
import { type Command, UsageError } from "./command.js";
import { expandAudioPaths } from "./files.js";

/** What the device front end makes of a recording: decoding, resampling and features. */
export interface InspectReport {
  file: string;
  format: string;
  source_rate: number;
  channels: number;
  duration_s: number;
  frames: number;
  /** Loudest frame's mean mel dB, and the mean over the clip: a quick level check. */
  peak_db: number;
  mean_db: number;
  decode_ms: number;
  features_ms: number;
}

export async function inspectFile(path: string, ex: FeatureExtractor): Promise<InspectReport> {
  const t0 = performance.now();
  const audio = await readAudioFile(path, { targetRate: ex.params.sampleRate });
  const t1 = performance.now();
  const f = extractFeatures(audio.samples, ex);
  const t2 = performance.now();
  const nMels = ex.params.nMels;
  let peak = Number.NEGATIVE_INFINITY;
  let sum = 0;
  for (let t = 0; t < f.frames; t++) {
    let s = 0;
    for (let m = 0; m < nMels; m++) s += f.melDb[t * nMels + m];
    peak = Math.max(peak, s / nMels);
    sum += s / nMels;
  }
  return {
    file: path,
    format: audio.source.format,
    source_rate: audio.source.sampleRate,
    channels: audio.source.channels,
    duration_s: round(audio.durationSec, 3),
    frames: f.frames,
    peak_db: round(peak, 1),
    mean_db: round(sum / Math.max(1, f.frames), 1),
    decode_ms: round(t1 - t0, 2),
    features_ms: round(t2 - t1, 2),
  };
}

function round(x: number, digits: number): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}

export const inspectCommand: Command = {
  name: "inspect",
  summary: "decode audio files and compute their features as the device does; report each",
  usage: `Usage: ser-agent inspect FILE|DIR... [--format table|jsonl]

Decodes each file (WAV, FLAC, MP3; any rate, any channels), resamples it to 16 kHz mono and
computes the model's features (MFCC), then prints one line per file: format, source rate,
channels, duration, frames, level and the time each step took. Directories are searched for
.wav/.flac/.mp3. A file that cannot be used is reported with the reason and the others go on;
the exit code is 1 if any failed.

Options:
  --format table|jsonl   output style (default table)
`,
  options: { format: { type: "string", default: "table" } },
  async run(values, positionals, io) {
    const format = values.format as string;
    if (format !== "table" && format !== "jsonl") {
      throw new UsageError(`--format must be table or jsonl, got "${format}"`);
    }
    if (positionals.length === 0) throw new UsageError("give at least one audio file or directory");
    const files = await expandAudioPaths(positionals);
    if (files.length === 0) throw new UsageError(`no .wav, .flac or .mp3 files in ${positionals}`);
    const ex = new FeatureExtractor();
    let failed = 0;
    if (format === "table") {
      io.out("file\tformat\trate\tch\tseconds\tframes\tpeak_dB\tmean_dB\tdecode_ms\tfeatures_ms\n");
    }
    for (const file of files) {
      try {
        const r = await inspectFile(file, ex);
        if (format === "jsonl") io.out(`${JSON.stringify(r)}\n`);
        else {
          io.out(
            `${[r.file, r.format, r.source_rate, r.channels, r.duration_s, r.frames, r.peak_db, r.mean_db, r.decode_ms, r.features_ms].join("\t")}\n`,
          );
        }
      } catch (err) {
        failed++;
        const message = (err as Error).message;
        if (format === "jsonl") io.out(`${JSON.stringify({ file, error: message })}\n`);
        io.err(`error: ${message}\n`);
      }
    }
    if (failed) io.err(`${failed} of ${files.length} files could not be used\n`);
    return failed ? 1 : 0;
  },
};

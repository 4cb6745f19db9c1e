import { type Command, intOption, UsageError } from "@ser-edge/agent/cli-kit";
import {
  applyLabelOptions,
  LabelError,
  type LabelOptions,
  labelSet,
  parseMerge,
  parseSelect,
} from "../datasets/labels.js";
import { compileSpeakerRegex, scanDatasets } from "../datasets/scan.js";
import { formatSummary, measureDurations, summarize } from "../datasets/summary.js";

/** Progress lines on stderr every this many decoded files, so long scans show life. */
const PROGRESS_EVERY = 500;

function stringList(value: unknown): string[] {
  if (value === undefined) return [];
  return (Array.isArray(value) ? value : [value]).map(String);
}

/** --merge (repeatable) and --labels as LabelOptions; bad syntax is a usage error. */
export function labelOptionsFrom(values: Record<string, unknown>): LabelOptions {
  try {
    const merges = stringList(values.merge);
    const opts: LabelOptions = {};
    if (merges.length > 0) opts.merge = parseMerge(merges.join(","));
    if (typeof values.labels === "string") opts.select = parseSelect(values.labels);
    labelSet(opts); // validates the combination
    return opts;
  } catch (err) {
    if (err instanceof LabelError) throw new UsageError(err.message);
    throw err;
  }
}

export const datasetsCommand: Command = {
  name: "datasets",
  summary: "list the labelled clips, speakers and hours found in corpus folders",
  usage: `Usage: ser-trainer datasets DIR... [options]

Finds RAVDESS, CREMA-D, TESS and SAVEE by their file names anywhere below each DIR, and any
other corpus laid out as DIR/<label>/[<speaker>/]FILE. Prints the corpora, clips per label,
speakers and total duration, and lists every file it could not use with the reason. Exits 1
when no usable clip was found.

Options:
  --merge FROM=TO[,...]  relabel, e.g. calm=neutral,surprised=happy (repeatable)
  --labels L[,...]       keep only these labels, e.g. neutral,happy,sad,angry
  --include-song         RAVDESS: also use the sung clips
  --speaker-regex RE     generic layout: speaker = first capture group of RE on the file name
  --no-decode            trust the file names; do not decode files (no durations)
  --jobs N               files decoded at a time (default 4)
  --json                 print the summary as JSON (all skipped files included)

Labels: neutral, calm, happy, sad, angry, fearful, disgust, surprised.
`,
  options: {
    merge: { type: "string", multiple: true },
    labels: { type: "string" },
    "include-song": { type: "boolean", default: false },
    "speaker-regex": { type: "string" },
    "no-decode": { type: "boolean", default: false },
    jobs: { type: "string" },
    json: { type: "boolean", default: false },
  },
  async run(values, positionals, io) {
    if (positionals.length === 0) throw new UsageError("give at least one dataset folder");
    const labelOpts = labelOptionsFrom(values);
    const jobs = intOption(values.jobs, "jobs", 4);
    if (jobs < 1) throw new UsageError("--jobs must be at least 1");
    const speakerRegex = values["speaker-regex"];
    if (typeof speakerRegex === "string") {
      try {
        compileSpeakerRegex(speakerRegex);
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
    }

    const scan = await scanDatasets(positionals, {
      includeSong: values["include-song"] === true,
      ...(typeof speakerRegex === "string" ? { speakerRegex } : {}),
    });
    const labelled = applyLabelOptions(scan.clips, labelOpts);
    let durations: Map<string, number> | undefined;
    let unreadable: { path: string; reason: string }[] = [];
    if (values["no-decode"] !== true) {
      const measured = await measureDurations(labelled, {
        concurrency: jobs,
        onProgress: (done, total) => {
          if (done % PROGRESS_EVERY === 0 && done < total) io.err(`decoded ${done}/${total}\n`);
        },
      });
      durations = measured.durations;
      unreadable = measured.unreadable;
    }
    const bad = new Set(unreadable.map((u) => u.path));
    const usable = labelled.filter((c) => !bad.has(c.path));
    const summary = summarize({
      clips: usable,
      labels: labelSet(labelOpts),
      roots: scan.corpora.map((c) => ({ corpus: c.corpus, root: c.root })),
      ...(durations ? { durations } : {}),
      droppedByLabels: scan.clips.length - labelled.length,
      skipped: scan.skipped,
      unreadable,
      warnings: scan.warnings,
    });
    io.out(values.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
    if (usable.length === 0) {
      io.err(`ser-trainer datasets: no usable clips in ${positionals.join(", ")}\n`);
      return 1;
    }
    return 0;
  },
};

import { writeFile } from "node:fs/promises";
import { readAudioFile } from "@ser-edge/agent/audio";
import { type Command, UsageError } from "@ser-edge/agent/cli-kit";
import { FeatureExtractor } from "@ser-edge/agent/features";
import { loadModel } from "@ser-edge/agent/model";
import { createSpeechTrimmer, fixedStats, modelInput, shouldTrim } from "@ser-edge/agent/pipeline";
import { scanDatasets } from "../datasets/scan.js";
import { formatMetricsTable, metricsFromScores } from "../eval/metrics.js";

const list = (v: unknown) =>
  typeof v === "string" && v.trim() ? v.split(",").map((s) => s.trim()) : undefined;

/**
 * A bundle measured through the device's own pipeline, file by file: decode, resample, the
 * agent's voice-activity trimming, the manifest's features and statistics, ONNX Runtime. What
 * `ser-agent classify` would say, scored against the corpus labels.
 */
export const evaluateCommand: Command = {
  name: "evaluate",
  summary: "score a model bundle on labelled corpora through the device pipeline (classify's path)",
  usage: `Usage: ser-trainer evaluate BUNDLE_DIR DIR... [--speakers IDS] [--[no-]trim] [--json FILE]

Runs every labelled clip in DIR... (as \`ser-trainer datasets\` finds them) through the device
pipeline, exactly as \`ser-agent classify\` does, and prints accuracy, UAR, macro F1, per-class
precision/recall and the confusion matrix. Use speakers the model never saw.

Options:
  --speakers IDS   only these speakers (e.g. ravdess:17,ravdess:18,ravdess:19,ravdess:20)
  --trim | --no-trim   force the voice-activity trimming on or off (default: as the model
                   was trained, manifest preprocessing.vadTrim)
  --json FILE      also write the metrics as JSON
`,
  options: {
    speakers: { type: "string" },
    trim: { type: "boolean", default: false },
    "no-trim": { type: "boolean", default: false },
    json: { type: "string" },
  },
  async run(values, positionals, io) {
    const [bundle, ...dirs] = positionals;
    if (!bundle || dirs.length === 0) throw new UsageError("give a bundle and a corpus directory");
    const runner = await loadModel(bundle, { requireSignature: false });
    const m = runner.manifest;
    const speakers = list(values.speakers);
    const clips = (await scanDatasets(dirs)).clips.filter(
      (c) => (!speakers || speakers.includes(c.speaker)) && m.labels.includes(c.label),
    );
    if (clips.length === 0) throw new UsageError("no labelled clips of the model's labels found");
    if (m.normalization.kind === "speaker") {
      io.err("note: a speaker-normalised model is measured with the manifest's statistics\n");
    }
    const trim = shouldTrim(m, { trim: values.trim, noTrim: values["no-trim"] });
    const trimmer = trim ? await createSpeechTrimmer() : null;
    const norm = fixedStats(m.normalization.mean, m.normalization.std);
    const extractor = new FeatureExtractor(m.features);
    const scores: number[][] = [];
    try {
      for (const clip of clips) {
        const audio = await readAudioFile(clip.path, { targetRate: m.features.sampleRate });
        const samples = trimmer ? (await trimmer.trim(audio.samples)).samples : audio.samples;
        const { x, frames } = modelInput(samples, m, extractor);
        scores.push(Array.from(await runner.probabilities(norm.apply(x, frames), frames)));
      }
    } finally {
      await trimmer?.dispose();
      await runner.release();
    }
    const metrics = metricsFromScores(
      clips.map((c) => m.labels.indexOf(c.label)),
      scores,
      m.labels,
    );
    io.out(
      `${m.name} ${m.version} on ${clips.length} clips${speakers ? ` (${speakers.join(", ")})` : ""}, ` +
        `${trimmer ? "VAD-trimmed" : "whole files"}, model on ${runner.runtime === "wasm" ? "the agent's engine" : "ONNX Runtime"}: UAR ${(100 * metrics.uar).toFixed(1)}%\n` +
        `${formatMetricsTable(metrics)}\n`,
    );
    if (typeof values.json === "string") {
      await writeFile(values.json, `${JSON.stringify(metrics, null, 2)}\n`);
    }
    return 0;
  },
};

import { readAudioFile } from "@ser-edge/agent/audio";
import { type Command, UsageError } from "@ser-edge/agent/cli-kit";
import { extractFeatures, toRows } from "@ser-edge/agent/features";
import {
  featureOptions,
  featureOptionsHelp,
  featureParamsFrom,
  librosaParams,
} from "./feature-options.js";

export const featuresCommand: Command = {
  name: "features",
  summary: "print one file's MFCC and dB mel spectrogram (librosa layout), to debug parity",
  usage: `Usage: ser-trainer features FILE [options] [--json]

Decodes FILE (resampled to 16 kHz mono) and computes its features with the extractor the device
uses. With --json prints {"sr":16000,"params":{...},"mfcc":[[...]],"mel_db":[[...]]}: rows are
coefficients and columns are frames, as librosa returns them, and params carry librosa's names.
Without --json prints the shape and per-coefficient means.

Options:
${featureOptionsHelp}
  --json         print the full matrices as JSON
`,
  options: { ...featureOptions, json: { type: "boolean", default: false } },
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError("give exactly one audio file");
    const params = featureParamsFrom(values);
    const audio = await readAudioFile(positionals[0], { targetRate: params.sampleRate });
    const f = extractFeatures(audio.samples, params);
    if (values.json) {
      io.out(
        `${JSON.stringify({
          sr: params.sampleRate,
          params: librosaParams(params),
          mfcc: toRows(f.mfcc, params.nMfcc),
          mel_db: toRows(f.melDb, params.nMels),
        })}\n`,
      );
      return 0;
    }
    const means = toRows(f.mfcc, params.nMfcc).map(
      (row) => row.reduce((s, v) => s + v, 0) / Math.max(1, row.length),
    );
    io.out(
      `${positionals[0]}: ${audio.source.format}, ${audio.source.sampleRate} Hz, ` +
        `${audio.source.channels} ch, ${audio.durationSec.toFixed(3)} s -> ${f.frames} frames\n` +
        `mfcc: ${params.nMfcc} x ${f.frames}, mel_db: ${params.nMels} x ${f.frames}\n` +
        `mfcc means: ${means.map((m) => m.toFixed(2)).join(" ")}\n`,
    );
    return 0;
  },
};

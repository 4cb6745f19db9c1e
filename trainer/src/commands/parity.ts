import { readFile } from "node:fs/promises";
import { readAudioFile } from "@ser-edge/agent/audio";
import { type Command, UsageError } from "@ser-edge/agent/cli-kit";
import { deltas, extractFeatures, resolveFeatureParams } from "@ser-edge/agent/features";

interface Golden {
  sr: number;
  params: Record<string, number | string | boolean | null>;
  input: { kind: string; samples?: number[]; path?: string };
  mfcc: number[][];
  mel_db: number[][];
  mel_power?: number[][];
  delta?: number[][];
  delta2?: number[][];
}

/** Tolerances of shared/golden/README.md. */
const LIMITS = { mel_power: 1e-4, mel_db: 2e-3, mfcc: 2e-3, delta: 2e-3, delta2: 2e-3 };

function compare(ours: Float32Array, rows: number[][], relative: boolean): number {
  const width = rows.length;
  let err = 0;
  rows.forEach((row, c) => {
    row.forEach((ref, t) => {
      const d = Math.abs(ours[t * width + c] - ref);
      if (!relative) err = Math.max(err, d);
      else if (ref > 1e-8) err = Math.max(err, d / ref);
    });
  });
  return err;
}

export const parityCommand: Command = {
  name: "parity",
  summary: "compare our features with a librosa reference file (shared/golden format)",
  usage: `Usage: ser-trainer parity GOLDEN.json... [--audio FILE]

Computes the features of each golden file's input (its stored samples, or --audio FILE for a
golden made from a recording) with the golden's parameters, and prints the largest error of
each matrix against librosa's with the tolerance it must meet. Exit code 1 if any exceeds it.
`,
  options: { audio: { type: "string" } },
  async run(values, positionals, io) {
    if (positionals.length === 0) throw new UsageError("give at least one golden JSON file");
    let failed = 0;
    for (const path of positionals) {
      const g = JSON.parse(await readFile(path, "utf8")) as Golden;
      const p = g.params;
      const params = resolveFeatureParams({
        sampleRate: g.sr,
        nFft: Number(p.n_fft),
        hopLength: Number(p.hop_length),
        winLength: Number(p.win_length),
        nMels: Number(p.n_mels),
        fmin: Number(p.fmin),
        fmax: Number(p.fmax),
        nMfcc: Number(p.n_mfcc),
        topDb: p.top_db === null ? null : Number(p.top_db),
        amin: Number(p.amin),
        melScale: p.htk ? "htk" : "slaney",
      });
      let samples: Float32Array;
      if (g.input.samples) samples = Float32Array.from(g.input.samples);
      else if (typeof values.audio === "string") {
        samples = (await readAudioFile(values.audio, { targetRate: g.sr })).samples;
      } else {
        throw new UsageError(`${path} names its input ${g.input.path}; pass it with --audio FILE`);
      }
      const f = extractFeatures(samples, params);
      const errors: Record<string, number> = {
        mel_db: compare(f.melDb, g.mel_db, false),
        mfcc: compare(f.mfcc, g.mfcc, false),
      };
      if (g.mel_power) errors.mel_power = compare(f.melPower, g.mel_power, true);
      if (g.delta) errors.delta = compare(deltas(f.mfcc, params.nMfcc, 1), g.delta, false);
      if (g.delta2) errors.delta2 = compare(deltas(f.mfcc, params.nMfcc, 2), g.delta2, false);
      for (const [name, err] of Object.entries(errors)) {
        const limit = LIMITS[name as keyof typeof LIMITS];
        const ok = err <= limit;
        if (!ok) failed++;
        const kind = name === "mel_power" ? "max rel" : "max abs";
        io.out(
          `${path}\t${name}\t${kind} ${err.toExponential(2)}\t<= ${limit}\t${ok ? "ok" : "FAIL"}\n`,
        );
      }
    }
    return failed ? 1 : 0;
  },
};

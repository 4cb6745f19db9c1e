import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { type Command, UsageError } from "@ser-edge/agent/cli-kit";
import { main } from "../cli.js";

/**
 * The shipped default model's recipe, in one place. Two trainings with the same options: one with
 * RAVDESS Actors 17-20 held out, whose validation result (and int8 calibration choice) is the
 * model's honest metric; then the final model on all 20 actors for the same number of epochs,
 * exported int8 with that calibration and carrying those metrics.
 */
export const DEFAULT_RECIPE = [
  "--arch",
  "tdnn",
  "--pooling",
  "attentive",
  "--normalize",
  "global",
  "--augment",
  "light",
  "--lr",
  "0.002",
  "--epochs",
  "40",
  "--crop",
  "200",
  "--representation",
  "mfcc+pitch",
  "--swa",
  "0.3",
  "--seed",
  "1",
];
export const HELD_OUT = "ravdess:17,ravdess:18,ravdess:19,ravdess:20";

export const defaultModelCommand: Command = {
  name: "default-model",
  summary: "reproduce the shipped default model: held-out run, final run on every actor, exports",
  usage: `Usage: ser-trainer default-model --data DIR [--out models/default] [--runs runs/default]

Trains the default recipe (${DEFAULT_RECIPE.join(" ")}) twice on RAVDESS: with
Actors 17-20 held out (the validation metrics and the int8 calibration choice), then on all 20
actors (the model). Exports both; the final bundle goes to --out with the held-out metrics.
About 25 + 25 minutes on a 2-core machine with the WASM backend.

Options:
  --data DIR      the RAVDESS directory (Actor_01..Actor_20)
  --out DIR       the bundle (default models/default)
  --runs DIR      run directories (default runs/default: heldout/, final/, heldout-bundle/)
  --version X.Y.Z the model version (default 1.2.0)
  --cache DIR     decoded-audio and feature cache (default .cache/ser-edge)
`,
  options: {
    data: { type: "string", multiple: true },
    out: { type: "string", default: "models/default" },
    runs: { type: "string", default: "runs/default" },
    version: { type: "string", default: "1.2.0" },
    cache: { type: "string", default: ".cache/ser-edge" },
  },
  async run(values, _positionals, io) {
    const data = (values.data as string[] | undefined) ?? [];
    if (data.length === 0) throw new UsageError("give the RAVDESS directory with --data DIR");
    const runs = values.runs as string;
    const cache = ["--cache", values.cache as string];
    const dataArgs = data.flatMap((d) => ["--data", d]);
    const step = async (what: string, argv: string[]) => {
      io.err(`\n== ${what}: ser-trainer ${argv.join(" ")}\n`);
      const t0 = performance.now();
      const code = await main(argv, io);
      io.err(`== ${what}: exit ${code}, ${((performance.now() - t0) / 1000).toFixed(0)} s\n`);
      if (code !== 0) throw new Error(`${what} failed (exit ${code}); see above`);
    };
    const heldOut = join(runs, "heldout");
    const final = join(runs, "final");
    const heldOutBundle = join(runs, "heldout-bundle");
    await step("held-out run", [
      "train",
      ...dataArgs,
      "--val-speakers",
      HELD_OUT,
      ...DEFAULT_RECIPE,
      ...cache,
      "--out",
      heldOut,
    ]);
    await step("held-out export", ["export", heldOut, "--out", heldOutBundle, ...cache]);
    const chosen = JSON.parse(await readFile(join(heldOut, "export-int8.json"), "utf8")) as {
      chosen: string;
    };
    await step("final run", [
      "train",
      ...dataArgs,
      "--val-speakers",
      "none",
      ...DEFAULT_RECIPE,
      ...cache,
      "--out",
      final,
    ]);
    await step("final export", [
      "export",
      final,
      "--out",
      values.out as string,
      "--name",
      "ser-edge-default",
      "--version",
      values.version as string,
      "--calibration",
      chosen.chosen,
      "--metrics-from",
      heldOutBundle,
      ...cache,
    ]);
    return 0;
  },
};

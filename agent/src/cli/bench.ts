import { stat } from "node:fs/promises";
import { benchDevice, deviceBenchTable } from "../bench/device.js";
import { installPath } from "../config/load.js";
import { createLogger } from "../log/index.js";
import { MODEL_RUNTIMES } from "../model/index.js";
import { resolveModelDir } from "./classify.js";
import { type Command, intOption, UsageError } from "./command.js";
import { expandAudioPaths } from "./files.js";

/** --clips, else the demo clips shipped beside the agent (the package's demo/, the repo's). */
async function speechClips(option: unknown): Promise<string[]> {
  const given = Array.isArray(option) ? option.map(String) : [];
  const dirs = given.length ? given : [installPath("demo")];
  for (const d of dirs) {
    if (!(await stat(d).catch(() => undefined))) {
      throw new Error(
        `no speech clips at ${d}${given.length ? "" : " (the demo clips shipped with the agent)"}; pass --clips DIR with a few speech recordings (WAV, FLAC or MP3)`,
      );
    }
  }
  const files = await expandAudioPaths(dirs);
  if (files.length === 0) throw new UsageError(`no .wav, .flac or .mp3 files in ${dirs}`);
  return files;
}

export const benchCommand: Command = {
  name: "bench",
  summary: "measure CPU, inference latency and memory of the agent on this machine",
  usage: `Usage: ser-agent bench [--quick] [--json] [--model DIR] [--clips DIR|FILE]...
                       [--seconds N] [--runs N] [--runtime auto|wasm|onnxruntime] [--threads N]

Runs the agent as \`ser-agent run\` builds it (model checked and self-tested, energy gate +
Silero VAD, features, model, MQTT to an embedded broker on a free loopback port; the service's
configuration file and broker are not used) on audio played as fast as it takes it, and reports:
  - CPU time per second of audio in silence (synthetic white noise at -70 dBFS) and in
    continuous speech (the clips trimmed to their speech, repeated), and that as % of one core
    when the audio arrives in real time
  - inference latency p50/p95 (features + model, per utterance, on the clips)
  - the process's resident memory (peak during the runs, and at the end)
Needs no repository and no data set: the package ships five demo clips (demo/). Prints a table,
or one JSON object with --json. Progress goes to stderr.

Options:
  --quick             10 s of audio per figure and 20 timed utterances (a few seconds)
  --seconds N         seconds of audio for each CPU figure (default 60)
  --runs N            timed utterances for the latency (default 100)
  --model DIR         model bundle (default: $SER_MODEL_DIR, else <install dir>/models/default)
  --clips DIR|FILE    speech recordings (repeatable; default: <install dir>/demo)
  --runtime R         where the emotion model runs (inference.runtime; default auto, as the
                      service): compare wasm (the agent's engine) with onnxruntime on a board
  --threads N         ONNX Runtime threads (inference.threads; default 1, as the service)
  --json              print the figures as one JSON object
`,
  options: {
    quick: { type: "boolean" },
    seconds: { type: "string" },
    runs: { type: "string" },
    model: { type: "string" },
    clips: { type: "string", multiple: true },
    threads: { type: "string" },
    runtime: { type: "string" },
    json: { type: "boolean" },
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) {
      throw new UsageError(
        `unexpected argument "${positionals[0]}"; speech clips go after --clips`,
      );
    }
    const quick = values.quick === true;
    const seconds = intOption(values.seconds, "seconds", quick ? 10 : 60);
    const runs = intOption(values.runs, "runs", quick ? 20 : 100);
    if (seconds < 3) throw new UsageError(`--seconds must be at least 3, got ${seconds}`);
    if (runs < 1) throw new UsageError(`--runs must be at least 1, got ${runs}`);
    const threads =
      values.threads === undefined ? undefined : intOption(values.threads, "threads", 1);
    const runtime = typeof values.runtime === "string" ? values.runtime : undefined;
    if (runtime !== undefined && !(MODEL_RUNTIMES as readonly string[]).includes(runtime)) {
      throw new UsageError(
        `--runtime must be one of ${MODEL_RUNTIMES.join(", ")}, got "${runtime}"`,
      );
    }
    const modelDir = await resolveModelDir(values.model);
    const clips = await speechClips(values.clips);
    const b = await benchDevice({
      modelDir,
      clips,
      seconds,
      inferenceRuns: runs,
      settings: [
        ...(threads === undefined ? [] : ["--inference-threads", String(threads)]),
        ...(runtime === undefined ? [] : ["--inference-runtime", runtime]),
      ],
      logger: createLogger({ level: "error" }),
      onStep: (s) => io.err(`bench: ${s}\n`),
    });
    io.out(values.json === true ? `${JSON.stringify(b)}\n` : `${deviceBenchTable(b)}\n`);
    return 0;
  },
};

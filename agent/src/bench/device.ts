import { cpus } from "node:os";
import { readAudioFile } from "../audio/index.js";
import { CAPTURE_SAMPLE_RATE } from "../capture/index.js";
import type { ModelRuntime } from "../model/index.js";
import { type Logger, loadClassifier } from "../runtime/index.js";
import { AgentHarness, type AgentRun } from "./harness.js";
import { SamplesSource } from "./samples-source.js";
import { quantile, quietRoom, repeatTo, toS16Steps, trimToSpeech } from "./signals.js";

const SR = CAPTURE_SAMPLE_RATE;

export interface DeviceBenchOptions {
  /** The model bundle, as model.dir. */
  modelDir: string;
  /** Speech recordings (any format readAudioFile takes): the speech input, trimmed and repeated. */
  clips: string[];
  /** Seconds of audio for each CPU figure (silence, speech). Default 60. */
  seconds?: number;
  /** Timed classifications for the inference latency. Default 100. */
  inferenceRuns?: number;
  /** More agent settings as arguments, e.g. ["--inference-threads", "2"]. */
  settings?: string[];
  logger?: Logger;
  /** Told before each step, for a progress line. */
  onStep?: (step: string) => void;
}

export interface CpuFigure {
  audio_s: number;
  /** Process CPU time (all threads) per second of audio, ms. */
  cpu_ms_per_audio_s: number;
  /** The same as a share of one core when the audio arrives in real time: ms per s / 10. */
  cpu_percent_of_core: number;
  events: number;
  wall_s: number;
}

export interface DeviceBench {
  model: { name: string; version: string; dir: string; runtime: string };
  host: { platform: string; arch: string; cpu: string; cores: number; node: string };
  silence: CpuFigure;
  speech: CpuFigure;
  inference: { runs: number; utterance_s_mean: number; p50_ms: number; p95_ms: number };
  rss_mb: { peak: number; end: number };
  took_s: number;
}

const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;
const mib = (bytes: number) => round(bytes / 1048576, 1);

function cpuFigure(run: AgentRun, audioSeconds: number): CpuFigure {
  const perS = run.cpuMs / audioSeconds;
  return {
    audio_s: audioSeconds,
    cpu_ms_per_audio_s: round(perS, 3),
    cpu_percent_of_core: round(perS / 10, 3),
    events: run.events.length,
    wall_s: round(run.wallMs / 1000, 2),
  };
}

/** One agent on `samples`, played as fast as it takes them; stopped afterwards. */
async function runOn(
  o: DeviceBenchOptions,
  name: string,
  samples: Float32Array,
): Promise<{
  run: AgentRun;
  model: { name: string; version: string };
  threads: number;
  runtime: ModelRuntime;
}> {
  const source = new SamplesSource(name, samples, { fast: true });
  const harness = await AgentHarness.prepare({
    modelDir: o.modelDir,
    source,
    fast: true,
    settings: o.settings,
    logger: o.logger,
  });
  try {
    const run = await harness.run();
    const { agent } = harness;
    const model = agent.model ?? { name: "unknown", version: "unknown" };
    const { threads, runtime } = agent.config.inference;
    return { run, model, threads, runtime };
  } finally {
    await harness.stop();
  }
}

/**
 * What `ser-agent bench` measures on the device itself, through the agent `ser-agent run` builds
 * (the same model loading, VAD, features, inference queue and MQTT, to an embedded broker):
 * CPU per audio-second in a quiet room (synthetic -70 dBFS noise) and in continuous speech (the
 * clips trimmed to their speech and butted together), inference latency (features + model, as
 * the agent times each utterance) over the clips, and resident memory.
 */
export async function benchDevice(o: DeviceBenchOptions): Promise<DeviceBench> {
  const t0 = performance.now();
  const seconds = o.seconds ?? 60;
  const runs = o.inferenceRuns ?? 100;
  if (o.clips.length === 0) throw new Error("no speech clips to measure with; pass --clips");
  const step = o.onStep ?? (() => {});

  step("decoding the speech clips");
  const speechParts: Float32Array[] = [];
  for (const clip of o.clips) {
    const audio = await readAudioFile(clip, { targetRate: SR });
    speechParts.push(toS16Steps(trimToSpeech(audio.samples)));
  }

  // JIT and ONNX Runtime's arenas warm up on a short input first; not measured.
  step("warming up");
  await runOn(o, "warm-up", repeatTo(speechParts, 3 * SR));

  step(`silence: ${seconds} s of -70 dBFS noise`);
  const silence = await runOn(o, "silence", toS16Steps(quietRoom(seconds * SR)));
  step(`speech: ${seconds} s of the clips`);
  const speech = await runOn(o, "speech", repeatTo(speechParts, seconds * SR));

  // The runtime's classifier, loaded as the agent loads it, on whole utterances of real length.
  step(`inference: ${runs} utterances`);
  const classifier = await loadClassifier(o.modelDir, {
    threads: speech.threads,
    runtime: speech.runtime,
    ...(o.logger ? { logger: o.logger } : {}),
  });
  const times: number[] = [];
  let audioSamples = 0;
  try {
    for (let i = -3; i < runs; i++) {
      const x = speechParts[(i + speechParts.length * 3) % speechParts.length];
      const t = performance.now();
      await classifier.classify(x);
      if (i >= 0) {
        times.push(performance.now() - t);
        audioSamples += x.length;
      }
    }
  } finally {
    await classifier.release();
  }

  const { model } = speech;
  const cpu = cpus();
  return {
    model: {
      name: model.name,
      version: model.version,
      dir: o.modelDir,
      runtime: classifier.runtime ?? speech.runtime,
    },
    host: {
      platform: process.platform,
      arch: process.arch,
      cpu: cpu[0]?.model?.trim() || "unknown",
      cores: cpu.length,
      node: process.version,
    },
    silence: cpuFigure(silence.run, seconds),
    speech: cpuFigure(speech.run, seconds),
    inference: {
      runs,
      utterance_s_mean: round(audioSamples / SR / Math.max(1, runs), 2),
      p50_ms: round(quantile(times, 0.5), 3),
      p95_ms: round(quantile(times, 0.95), 3),
    },
    rss_mb: {
      peak: mib(Math.max(silence.run.rssPeak, speech.run.rssPeak)),
      end: mib(process.memoryUsage.rss()),
    },
    took_s: round((performance.now() - t0) / 1000, 1),
  };
}

/** The human-readable table `ser-agent bench` prints. */
export function deviceBenchTable(b: DeviceBench): string {
  const f = (x: number, d: number) => x.toFixed(d);
  const rows: [string, string][] = [
    [
      "CPU, silence (-70 dBFS noise)",
      `${f(b.silence.cpu_ms_per_audio_s, 2)} ms per audio-s = ${f(b.silence.cpu_percent_of_core, 2)}% of one core (${b.silence.audio_s} s, ${b.silence.events} events)`,
    ],
    [
      "CPU, continuous speech",
      `${f(b.speech.cpu_ms_per_audio_s, 2)} ms per audio-s = ${f(b.speech.cpu_percent_of_core, 2)}% of one core (${b.speech.audio_s} s, ${b.speech.events} events)`,
    ],
    [
      "inference (features + model)",
      `p50 ${f(b.inference.p50_ms, 2)} ms, p95 ${f(b.inference.p95_ms, 2)} ms (${b.inference.runs} utterances of ${f(b.inference.utterance_s_mean, 1)} s on average)`,
    ],
    ["RSS (this process)", `peak ${f(b.rss_mb.peak, 1)} MiB, end ${f(b.rss_mb.end, 1)} MiB`],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  return [
    `model ${b.model.name} ${b.model.version} (${b.model.dir}), on ${b.model.runtime === "wasm" ? "the agent's engine (WebAssembly)" : "ONNX Runtime"}`,
    `host ${b.host.platform} ${b.host.arch}, ${b.host.cores} x ${b.host.cpu}, Node ${b.host.node}`,
    "",
    ...rows.map(([k, v]) => `${k.padEnd(w)}  ${v}`),
    "",
    `CPU is the process's CPU time (all threads) per second of audio played as fast as the agent takes it; % of one core is that share when the audio arrives in real time. Took ${f(b.took_s, 1)} s.`,
  ].join("\n");
}

// The agent end to end (`ser-agent run` minus the command line): file input → energy gate +
// Silero VAD → features → model (one ONNX thread) → MQTT through the embedded broker on
// loopback, measured in this process.
//
// - CPU: process CPU time (all threads) per second of audio, for a quiet room (white noise at
//   -70 dBFS) and for continuous speech (RAVDESS clips trimmed to their speech and butted
//   together, so utterances run into the 8 s window limit), played from memory in 100 ms chunks
//   (input.periodMs). Fast: as fast as the agent takes it, a short and a long run, whose
//   difference is the pipeline's steady cost per audio-second (the fixed cost of starting and
//   settling a run cancels out). Real time: the quiet room as a microphone delivers it, which
//   adds what waking up 10 times a second costs. The harness and signals are agent/src/bench's,
//   which `ser-agent bench` runs on a board.
// - Latency: utterance closed by the detector → event received by an MQTT subscriber, and the
//   utterance's last sample → received, with the clips played in real time (1 s gaps).
// - Memory: RSS of `ser-agent run --fast --exit-at-end` (a child process, the built launcher
//   with the unit's memory settings) replaying an hour of input (the clips with 1 s gaps,
//   repeated; decoded one at a time as they play); Linux /proc.
//
// Model: models/default when it exists, else a test bundle (small TDNN) built on the fly.
// Run alone: node --conditions=source --import tsx bench/runtime.bench.ts [--quick]
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectAsync } from "mqtt";
import { readAudioFile } from "../agent/src/audio/index.js";
import { encodeWav } from "../agent/src/audio/wav-write.js";
import { AgentHarness, freePort } from "../agent/src/bench/harness.js";
import { SamplesSource } from "../agent/src/bench/samples-source.js";
import { SERVICE_MEMORY_ENV } from "../agent/src/bench/service-env.js";
import {
  quantile,
  quietRoom,
  repeatTo,
  toS16Steps,
  trimToSpeech,
} from "../agent/src/bench/signals.js";
import type { AudioSource } from "../agent/src/capture/index.js";
import { type EmotionEvent, PlaylistSource } from "../agent/src/runtime/index.js";
import { MOSQUITTO, Mosquitto } from "../test/mqtt/helpers.js";
import { buildTestBundle, DEMO_CLIPS, FIXTURE_CLIPS } from "../test/runtime/bundle.js";

const SR = 16000;

export interface RuntimeBenchOptions {
  /** Seconds of audio of the long fast CPU runs (the short ones are a fifth). Default 300. */
  cpuSeconds?: number;
  /** Seconds of the real-time quiet run. Default 30. */
  realTimeSeconds?: number;
  /** Real-time passes over the 9 clips for the latency figures. Default 2 (~80 s). */
  latencyPasses?: number;
  /** Minutes of audio replayed for the memory figure. Default 60 (the issue's hour). */
  memoryMinutes?: number;
}

export interface RuntimeBench {
  model: string;
  cpu: {
    /** Steady cost: (long run - short run) / (long - short audio), fast input. */
    quiet_ms_per_audio_s: number;
    speech_ms_per_audio_s: number;
    /** The same with inference.runtime onnxruntime (the emotion model in ONNX Runtime). */
    speech_onnxruntime_ms_per_audio_s: number;
    /** The long run's whole CPU over its audio (start and settle included). */
    quiet_whole_run_ms_per_audio_s: number;
    speech_whole_run_ms_per_audio_s: number;
    /** The quiet room in real time, 100 ms chunks. */
    quiet_real_time_ms_per_audio_s: number;
    /** The latency run below (the clips with 1 s gaps, ~75% speech) in real time. */
    clips_real_time_ms_per_audio_s: number;
    /**
     * `ser-agent run` alone in a child process (embedded broker, the unit's settings), audio in
     * real time from a 16 kHz WAV: the process's CPU from "agent running" to the input's end.
     */
    process_quiet_real_time_ms_per_audio_s: number;
    process_clips_real_time_ms_per_audio_s: number;
    audio_seconds: number;
    speech_events: number;
  };
  latency: {
    events: number;
    closed_to_received_p50_ms: number;
    closed_to_received_p95_ms: number;
    inference_p50_ms: number;
    end_sample_to_received_p50_ms: number;
    end_sample_to_received_p95_ms: number;
  };
  /** With the embedded broker (the agent's default). */
  memory: MemoryFigures;
  /** Publishing to a separate mosquitto (as a device with a broker runs); absent without one. */
  memory_external_broker?: MemoryFigures;
  /** Embedded broker, inference.runtime onnxruntime. */
  memory_onnxruntime: MemoryFigures;
}

interface MemoryFigures {
  audio_minutes: number;
  events: number;
  rss_after_start_mb: number;
  rss_after_10pct_mb: number;
  rss_end_mb: number;
  rss_max_mb: number;
  /** Private (anonymous) pages; the rest of RSS is file-backed (node, ONNX Runtime). */
  anon_max_mb: number;
  growth_after_warmup_mb: number;
}

const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

interface RunResult {
  events: { event: EmotionEvent; closedAt: number; inferenceMs: number; receivedAt: number }[];
  cpuMs: number;
}

/** The setting that puts the emotion model on ONNX Runtime (the comparison rows). */
const ONNXRUNTIME = ["--inference-runtime", "onnxruntime"];

/** The agent's default input.periodMs: the chunk every source in this bench delivers. */
const PERIOD_MS = 100;

/**
 * The agent (agent/src/bench's harness: as `ser-agent run` builds it, embedded broker) on
 * `source`, with an MQTT subscriber timing when each event arrives (performance.now()).
 */
async function runAgent(
  modelDir: string,
  source: AudioSource,
  fast: boolean,
  settings: string[] = [],
): Promise<RunResult> {
  const h = await AgentHarness.prepare({ modelDir, source, fast, settings });
  const received = new Map<number, number>();
  const sub = await connectAsync(h.agent.brokerUrl as string, { clientId: "bench-sub" });
  try {
    sub.on("message", (_topic, payload) => {
      const event = JSON.parse(payload.toString()) as EmotionEvent;
      received.set(event.seq ?? -1, performance.now());
    });
    await sub.subscribeAsync(h.agent.topics.emotion, { qos: 1 });
    const run = await h.run(30_000);
    const deadline = Date.now() + 5000;
    while (received.size < run.events.length && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    return {
      cpuMs: run.cpuMs,
      events: run.events.map(({ event, timing }) => ({
        event,
        closedAt: timing.closedAt,
        inferenceMs: timing.inferenceMs,
        receivedAt: received.get(event.seq ?? -1) ?? Number.NaN,
      })),
    };
  } finally {
    await h.stop();
    await sub.endAsync(true);
  }
}

/**
 * `ser-agent run --exit-at-end --model-dir DIR --log-format json ARGS` in a child: the built
 * launcher as installed (npm run bench builds first; no tsx loader in the figures, and tsx
 * crashes on command lines of several hundred files), with the unit's memory settings
 * (deploy/ser-agent.service); its log on stderr.
 */
function runAgentChild(modelDir: string, args: string[]): ChildProcess {
  const root = fileURLToPath(new URL("../", import.meta.url));
  return spawn(
    process.execPath,
    [
      join(root, "agent/bin/ser-agent.js"),
      "run",
      ...args,
      "--exit-at-end",
      "--model-dir",
      modelDir,
      "--log-format",
      "json",
    ],
    {
      cwd: root,
      env: { PATH: process.env.PATH, HOME: process.env.HOME, ...SERVICE_MEMORY_ENV },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
}

/** Calls `each` with every JSON log line the child writes on stderr (other lines are skipped). */
function onLogLines(
  child: ChildProcess,
  each: (line: { msg: string; audio_s?: number }) => void,
): void {
  let buffered = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    buffered += d;
    for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      let parsed: { msg: string; audio_s?: number };
      try {
        parsed = JSON.parse(line);
      } catch {
        continue; // not a log line
      }
      each(parsed);
    }
  });
}

/**
 * The real command (`ser-agent run --fast --exit-at-end`) in a child, with the unit's memory
 * settings, its RSS from /proc. The files are decoded one at a time as they play.
 */
async function replayInChild(
  modelDir: string,
  files: string[],
  brokerUrl?: string,
  settings: string[] = [],
): Promise<MemoryFigures> {
  const broker = brokerUrl
    ? ["--mqtt-url", brokerUrl]
    : ["--mqtt-embedded-port", String(await freePort())];
  const child = runAgentChild(modelDir, ["--input", ...files, "--fast", ...broker, ...settings]);
  const samples: { t: number; rss: number; anon: number; phase: string }[] = [];
  let phase = "loading";
  let events = 0;
  let seconds = 0;
  onLogLines(child, (j) => {
    if (j.msg === "audio input ended") seconds = j.audio_s ?? 0;
    if (j.msg === "agent running") phase = "running";
    if (j.msg === "emotion") events++;
    if (j.msg === "audio input ended") phase = "ended";
  });
  const readRss = () => {
    try {
      const status = readFileSync(`/proc/${child.pid}/status`, "utf8");
      const m = /VmRSS:\s+(\d+) kB/.exec(status);
      const a = /RssAnon:\s+(\d+) kB/.exec(status);
      if (m && a) {
        samples.push({
          t: performance.now(),
          rss: Number(m[1]) * 1024,
          anon: Number(a[1]) * 1024,
          phase,
        });
      }
    } catch {
      // exited
    }
  };
  const timer = setInterval(readRss, 50);
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  clearInterval(timer);
  if (code !== 0) throw new Error(`ser-agent run exited with ${code}`);
  const running = samples.filter((s) => s.phase === "running");
  const first = running[0];
  const last = samples.filter((s) => s.phase !== "loading").at(-1) ?? first;
  const span = (last?.t ?? 0) - (first?.t ?? 0);
  const warm = running.find((s) => s.t - (first?.t ?? 0) >= 0.1 * span) ?? first;
  return {
    audio_minutes: seconds / 60,
    events,
    rss_after_start_mb: mb(first?.rss ?? Number.NaN),
    rss_after_10pct_mb: mb(warm?.rss ?? Number.NaN),
    rss_end_mb: mb(last?.rss ?? Number.NaN),
    rss_max_mb: mb(Math.max(...samples.map((s) => s.rss))),
    anon_max_mb: mb(Math.max(...samples.map((s) => s.anon))),
    growth_after_warmup_mb: mb((last?.rss ?? Number.NaN) - (warm?.rss ?? Number.NaN)),
  };
}

/**
 * CPU of `ser-agent run --input WAV` (real time, the default input.periodMs, embedded broker,
 * the unit's memory settings) from its "agent running" line to "audio input ended", per
 * audio-second of that span: /proc/<pid>/stat, all threads.
 */
async function realTimeInChild(modelDir: string, wav: string): Promise<number> {
  const child = runAgentChild(modelDir, [
    "--input",
    wav,
    "--mqtt-embedded-port",
    String(await freePort()),
  ]);
  const ticks = () => {
    const f = readFileSync(`/proc/${child.pid}/stat`, "utf8").split(") ")[1].split(" ");
    // utime and stime: fields 14 and 15 of stat, 12 and 13 after the command name.
    return Number(f[11]) + Number(f[12]);
  };
  let start: { ticks: number; t: number } | undefined;
  let end: { ticks: number; t: number } | undefined;
  onLogLines(child, (j) => {
    if (j.msg === "agent running") start = { ticks: ticks(), t: performance.now() };
    if (j.msg === "audio input ended") end = { ticks: ticks(), t: performance.now() };
  });
  const code = await new Promise<number | null>((resolve) => child.once("exit", resolve));
  if (code !== 0 || !start || !end) throw new Error(`ser-agent run on ${wav} exited with ${code}`);
  // Clock ticks are 10 ms (USER_HZ 100 on Linux).
  return ((end.ticks - start.ticks) * 10) / ((end.t - start.t) / 1000);
}

export async function benchRuntime(options: RuntimeBenchOptions = {}): Promise<RuntimeBench> {
  const cpuSeconds = options.cpuSeconds ?? 300;
  const shortSeconds = cpuSeconds / 5;
  const realTimeSeconds = options.realTimeSeconds ?? 30;
  const passes = options.latencyPasses ?? 2;
  const minutes = options.memoryMinutes ?? 60;
  const dir = mkdtempSync(join(tmpdir(), "ser-bench-runtime-"));
  try {
    const shipped = fileURLToPath(new URL("../models/default", import.meta.url));
    let modelDir = shipped;
    let model = "models/default";
    if (!existsSync(join(shipped, "manifest.json"))) {
      modelDir = join(dir, "bundle");
      const b = await buildTestBundle(modelDir);
      model = `${b.manifest.name} (test bundle: TDNN hidden 32; models/default not present)`;
    }
    const clips = [...FIXTURE_CLIPS, ...DEMO_CLIPS];
    const decoded = await Promise.all(clips.map(async (f) => (await readAudioFile(f)).samples));
    const speechParts = decoded.map((x) => toS16Steps(trimToSpeech(x)));
    const play = (name: string, x: Float32Array, fast = true) =>
      new SamplesSource(name, x, { fast, chunkMs: PERIOD_MS });

    // Warm-up (JIT, ONNX Runtime arenas), not measured.
    await runAgent(modelDir, play("warm-up", repeatTo(speechParts, 3 * SR)), true);

    const quietSignal = toS16Steps(quietRoom(cpuSeconds * SR));
    const speechSignal = repeatTo(speechParts, cpuSeconds * SR);
    const steady = async (name: string, x: Float32Array, settings: string[] = []) => {
      const short = await runAgent(
        modelDir,
        play(name, x.subarray(0, shortSeconds * SR)),
        true,
        settings,
      );
      const long = await runAgent(modelDir, play(name, x), true, settings);
      return {
        marginal: (long.cpuMs - short.cpuMs) / (cpuSeconds - shortSeconds),
        whole: long.cpuMs / cpuSeconds,
        events: long.events.length,
      };
    };
    const quiet = await steady("quiet", quietSignal);
    const speech = await steady("speech", speechSignal);
    // The same with the emotion model on ONNX Runtime instead of the agent's engine.
    const speechOrt = await steady("speech", speechSignal, ONNXRUNTIME);
    const quietLive = await runAgent(
      modelDir,
      play("quiet, real time", quietSignal.subarray(0, realTimeSeconds * SR), false),
      false,
    );

    // The same two inputs as 16 kHz WAVs, for the agent alone in a child process.
    const quietWav = join(dir, "quiet.wav");
    writeFileSync(quietWav, encodeWav(quietSignal.subarray(0, realTimeSeconds * SR), SR));
    const clipsWav = join(dir, "clips.wav");
    const gap = new Float32Array(SR);
    const withGaps = decoded.flatMap((x, i) => (i === 0 ? [x] : [gap, x]));
    const joined = new Float32Array(withGaps.reduce((s, x) => s + x.length, 0));
    let at = 0;
    for (const x of withGaps) {
      joined.set(x, at);
      at += x.length;
    }
    writeFileSync(clipsWav, encodeWav(joined, SR));
    const processQuiet = await realTimeInChild(modelDir, quietWav);
    const processClips = await realTimeInChild(modelDir, clipsWav);

    const latencyFiles = Array.from({ length: passes }, () => clips).flat();
    const live = await runAgent(
      modelDir,
      new PlaylistSource(latencyFiles, { gapMs: 1000, chunkMs: PERIOD_MS }),
      false,
    );
    // The playlist's duration: the clips, with a 1 s gap between consecutive files.
    const liveSeconds =
      (passes * decoded.reduce((s, x) => s + x.length, 0)) / SR + (latencyFiles.length - 1);
    const closedToReceived = live.events.map((e) => e.receivedAt - e.closedAt);
    const endToReceived = live.events.map(
      (e) => e.receivedAt + performance.timeOrigin - Date.parse(e.event.end),
    );

    const rounds = Math.max(1, Math.round((minutes * 60) / 42));
    const replay = Array.from({ length: rounds }, () => clips).flat();
    const long = await replayInChild(modelDir, replay);
    let external: MemoryFigures | undefined;
    if (existsSync(MOSQUITTO)) {
      const broker = await Mosquitto.start();
      try {
        external = await replayInChild(modelDir, replay, broker.url);
      } finally {
        await broker.dispose();
      }
    }
    const longOrt = await replayInChild(modelDir, replay, undefined, ONNXRUNTIME);
    return {
      model,
      cpu: {
        quiet_ms_per_audio_s: quiet.marginal,
        speech_ms_per_audio_s: speech.marginal,
        speech_onnxruntime_ms_per_audio_s: speechOrt.marginal,
        quiet_whole_run_ms_per_audio_s: quiet.whole,
        speech_whole_run_ms_per_audio_s: speech.whole,
        quiet_real_time_ms_per_audio_s: quietLive.cpuMs / realTimeSeconds,
        clips_real_time_ms_per_audio_s: live.cpuMs / liveSeconds,
        process_quiet_real_time_ms_per_audio_s: processQuiet,
        process_clips_real_time_ms_per_audio_s: processClips,
        audio_seconds: cpuSeconds,
        speech_events: speech.events,
      },
      latency: {
        events: live.events.length,
        closed_to_received_p50_ms: quantile(closedToReceived, 0.5),
        closed_to_received_p95_ms: quantile(closedToReceived, 0.95),
        inference_p50_ms: quantile(
          live.events.map((e) => e.inferenceMs),
          0.5,
        ),
        end_sample_to_received_p50_ms: quantile(endToReceived, 0.5),
        end_sample_to_received_p95_ms: quantile(endToReceived, 0.95),
      },
      memory: long,
      ...(external ? { memory_external_broker: external } : {}),
      memory_onnxruntime: longOrt,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Markdown for BENCHMARKS.md. */
export function runtimeMarkdown(b: RuntimeBench): string {
  const f = (x: number, d = 1) => x.toFixed(d);
  const c = b.cpu;
  const memRow = (what: string, m: MemoryFigures) =>
    `| RSS replaying ${f(m.audio_minutes, 1)} min (${m.events} events), fast input, ${what} | start ${f(m.rss_after_start_mb)} MiB, at 10% ${f(m.rss_after_10pct_mb)} MiB, end ${f(m.rss_end_mb)} MiB, **max ${f(m.rss_max_mb)} MiB** (private ${f(m.anon_max_mb)} MiB, the rest file-backed); growth after warm-up ${f(m.growth_after_warmup_mb)} MiB |`;
  return [
    `Agent end to end (file input → VAD → features → model → MQTT), model: ${b.model}, ${PERIOD_MS} ms chunks.\n`,
    "| measure | value |",
    "|---|---|",
    `| CPU, quiet room (-70 dBFS noise), fast input, steady cost | **${f(c.quiet_ms_per_audio_s, 2)} ms per audio-s** (whole ${c.audio_seconds} s run: ${f(c.quiet_whole_run_ms_per_audio_s, 2)}) |`,
    `| CPU, continuous speech, fast input, steady cost | **${f(c.speech_ms_per_audio_s, 2)} ms per audio-s** (whole run: ${f(c.speech_whole_run_ms_per_audio_s, 2)}; ${c.speech_events} events in ${c.audio_seconds} s) |`,
    `| the same, the emotion model on ONNX Runtime (\`inference.runtime onnxruntime\`) | ${f(c.speech_onnxruntime_ms_per_audio_s, 2)} ms per audio-s |`,
    `| CPU, quiet room in real time | ${f(c.quiet_real_time_ms_per_audio_s, 2)} ms per audio-s (${f(c.quiet_real_time_ms_per_audio_s / 10, 2)}% of a core) |`,
    `| CPU, the clips with 1 s gaps (~75% speech) in real time | ${f(c.clips_real_time_ms_per_audio_s, 2)} ms per audio-s (${f(c.clips_real_time_ms_per_audio_s / 10, 2)}% of a core) |`,
    `| CPU of \`ser-agent run\` alone (child process, embedded broker), real time: quiet room / the clips | ${f(c.process_quiet_real_time_ms_per_audio_s, 2)} / ${f(c.process_clips_real_time_ms_per_audio_s, 2)} ms per audio-s (${f(c.process_quiet_real_time_ms_per_audio_s / 10, 2)}% / ${f(c.process_clips_real_time_ms_per_audio_s / 10, 2)}% of a core) |`,
    `| utterance closed → MQTT message received (loopback), real-time input | p50 ${f(b.latency.closed_to_received_p50_ms)} ms, **p95 ${f(b.latency.closed_to_received_p95_ms)} ms** (${b.latency.events} events; inference p50 ${f(b.latency.inference_p50_ms)} ms) |`,
    `| utterance's last sample → MQTT message received | p50 ${f(b.latency.end_sample_to_received_p50_ms, 0)} ms, p95 ${f(b.latency.end_sample_to_received_p95_ms, 0)} ms (the detector's decision lag and up to one ${PERIOD_MS} ms chunk included; the ${400} ms hangover comes before) |`,
    memRow("embedded broker", b.memory),
    ...(b.memory_external_broker
      ? [memRow("publishing to a separate mosquitto", b.memory_external_broker)]
      : []),
    memRow("embedded broker, `inference.runtime onnxruntime`", b.memory_onnxruntime),
    `\nCPU is the process's CPU time (all threads: the pipeline, the embedded broker and a subscriber in the same process) per second of audio. Steady cost: a ${c.audio_seconds} s run minus a ${c.audio_seconds / 5} s run, over the difference in audio, so the fixed cost of starting and settling a run cancels out. RSS is the child process's (\`ser-agent run\`, the built launcher as installed), with the unit's ${Object.entries(
      SERVICE_MEMORY_ENV,
    )
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}; the input files are decoded one at a time as they play.`,
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes("--quick");
  const t0 = performance.now();
  const b = await benchRuntime(
    quick ? { cpuSeconds: 30, realTimeSeconds: 10, latencyPasses: 1, memoryMinutes: 2 } : {},
  );
  console.log(runtimeMarkdown(b));
  console.log(`\n${JSON.stringify(b)}`);
  console.log(`\n(bench took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

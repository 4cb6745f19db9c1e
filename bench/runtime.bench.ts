// The agent end to end (`ser-agent run` minus the command line): file input → energy gate +
// Silero VAD → features → model (one ONNX thread) → MQTT through the embedded broker on
// loopback, measured in this process.
//
// - CPU: process CPU time (all threads) per second of audio, played from memory as fast as the
//   agent takes it, for a quiet room (white noise at -70 dBFS) and for continuous speech (RAVDESS
//   clips trimmed to their speech and butted together, so utterances run into the 8 s window
//   limit). The harness and signals are agent/src/bench's, which `ser-agent bench` runs on a board.
// - Latency: utterance closed by the detector → event received by an MQTT subscriber, and the
//   utterance's last sample → received, with the clips played in real time (1 s gaps).
// - Memory: RSS of `ser-agent run --fast --exit-at-end` (a child process, the built launcher
//   with the unit's memory settings) replaying an hour of input (the clips with 1 s gaps,
//   repeated; decoded one at a time as they play); Linux /proc.
//
// Model: models/default when it exists, else a test bundle (small TDNN) built on the fly.
// Run alone: node --conditions=source --import tsx bench/runtime.bench.ts [--quick]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectAsync } from "mqtt";
import { readAudioFile } from "../agent/src/audio/index.js";
import { AgentHarness, freePort } from "../agent/src/bench/harness.js";
import { SamplesSource } from "../agent/src/bench/samples-source.js";
import {
  quantile,
  quietRoom,
  repeatTo,
  toS16Steps,
  trimToSpeech,
} from "../agent/src/bench/signals.js";
import type { AudioSource } from "../agent/src/capture/index.js";
import { type EmotionEvent, PlaylistSource } from "../agent/src/runtime/index.js";
import { buildTestBundle, DEMO_CLIPS, FIXTURE_CLIPS } from "../test/runtime/bundle.js";

const SR = 16000;

export interface RuntimeBenchOptions {
  /** Seconds of audio for each CPU measurement. Default 120. */
  cpuSeconds?: number;
  /** Real-time passes over the 9 clips for the latency figures. Default 2 (~80 s). */
  latencyPasses?: number;
  /** Minutes of audio replayed for the memory figure. Default 60 (the hour). */
  memoryMinutes?: number;
}

export interface RuntimeBench {
  model: string;
  cpu: {
    quiet_ms_per_audio_s: number;
    speech_ms_per_audio_s: number;
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
  memory: {
    audio_minutes: number;
    events: number;
    rss_after_start_mb: number;
    rss_after_10pct_mb: number;
    rss_end_mb: number;
    rss_max_mb: number;
    growth_after_warmup_mb: number;
  };
}

const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

interface RunResult {
  events: { event: EmotionEvent; closedAt: number; inferenceMs: number; receivedAt: number }[];
  cpuMs: number;
}

/**
 * The agent (agent/src/bench's harness: as `ser-agent run` builds it, embedded broker) on
 * `source`, with an MQTT subscriber timing when each event arrives (performance.now()).
 */
async function runAgent(modelDir: string, source: AudioSource, fast: boolean): Promise<RunResult> {
  const h = await AgentHarness.prepare({ modelDir, source, fast });
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
 * The real command (`ser-agent run --fast --exit-at-end`) in a child, with the unit's memory
 * settings, its RSS from /proc. The files are decoded one at a time as they play.
 */
async function replayInChild(modelDir: string, files: string[]): Promise<RuntimeBench["memory"]> {
  const root = fileURLToPath(new URL("../", import.meta.url));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    // The built launcher, as installed (npm run bench builds first): no tsx loader in the
    // figure (tsx also crashes on command lines of several hundred files).
    [
      join(root, "agent/bin/ser-agent.js"),
      "run",
      "--input",
      ...files,
      "--fast",
      "--exit-at-end",
      "--model-dir",
      modelDir,
      "--mqtt-embedded-port",
      String(port),
      "--log-format",
      "json",
    ],
    {
      cwd: root,
      // The service's memory settings (deploy/ser-agent.service): a 1 MiB young generation and
      // two malloc arenas.
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        NODE_OPTIONS: "--max-semi-space-size=1",
        MALLOC_ARENA_MAX: "2",
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  const samples: { t: number; rss: number; phase: string }[] = [];
  let phase = "loading";
  let events = 0;
  let seconds = 0;
  let buffered = "";
  child.stderr?.setEncoding("utf8");
  child.stderr?.on("data", (d: string) => {
    buffered += d;
    for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
      const line = buffered.slice(0, i);
      buffered = buffered.slice(i + 1);
      try {
        const j = JSON.parse(line) as { msg: string; audio_s?: number };
        if (j.msg === "audio input ended") seconds = j.audio_s ?? 0;
        if (j.msg === "agent running") phase = "running";
        if (j.msg === "emotion") events++;
        if (j.msg === "audio input ended") phase = "ended";
      } catch {
        // not a log line
      }
    }
  });
  const readRss = () => {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (m) samples.push({ t: performance.now(), rss: Number(m[1]) * 1024, phase });
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
    growth_after_warmup_mb: mb((last?.rss ?? Number.NaN) - (warm?.rss ?? Number.NaN)),
  };
}

export async function benchRuntime(options: RuntimeBenchOptions = {}): Promise<RuntimeBench> {
  const cpuSeconds = options.cpuSeconds ?? 120;
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
    const samples = cpuSeconds * SR;
    const play = (name: string, x: Float32Array) => new SamplesSource(name, x, { fast: true });

    // Warm-up (JIT, ONNX Runtime arenas), not measured.
    await runAgent(modelDir, play("warm-up", repeatTo(speechParts, 3 * SR)), true);

    const quiet = await runAgent(modelDir, play("quiet", toS16Steps(quietRoom(samples))), true);
    const speech = await runAgent(modelDir, play("speech", repeatTo(speechParts, samples)), true);

    const latencyFiles = Array.from({ length: passes }, () => clips).flat();
    const live = await runAgent(modelDir, new PlaylistSource(latencyFiles, { gapMs: 1000 }), false);
    const closedToReceived = live.events.map((e) => e.receivedAt - e.closedAt);
    const endToReceived = live.events.map(
      (e) => e.receivedAt + performance.timeOrigin - Date.parse(e.event.end),
    );

    const rounds = Math.max(1, Math.round((minutes * 60) / 42));
    const long = await replayInChild(modelDir, Array.from({ length: rounds }, () => clips).flat());
    return {
      model,
      cpu: {
        quiet_ms_per_audio_s: quiet.cpuMs / cpuSeconds,
        speech_ms_per_audio_s: speech.cpuMs / cpuSeconds,
        audio_seconds: cpuSeconds,
        speech_events: speech.events.length,
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
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Markdown for BENCHMARKS.md. */
export function runtimeMarkdown(b: RuntimeBench): string {
  const f = (x: number, d = 1) => x.toFixed(d);
  return [
    `Agent end to end (file input → VAD → features → model → embedded MQTT broker), model: ${b.model}.\n`,
    "| measure | value |",
    "|---|---|",
    `| CPU, quiet room (-70 dBFS noise), fast input | ${f(b.cpu.quiet_ms_per_audio_s, 2)} ms per audio-s (${f(b.cpu.quiet_ms_per_audio_s / 10, 2)}% of a core in real time) |`,
    `| CPU, continuous speech, fast input | ${f(b.cpu.speech_ms_per_audio_s, 2)} ms per audio-s (${f(b.cpu.speech_ms_per_audio_s / 10, 2)}% of a core; ${b.cpu.speech_events} events in ${b.cpu.audio_seconds} s) |`,
    `| utterance closed → MQTT message received (loopback), real-time input | p50 ${f(b.latency.closed_to_received_p50_ms)} ms, p95 ${f(b.latency.closed_to_received_p95_ms)} ms (${b.latency.events} events; inference p50 ${f(b.latency.inference_p50_ms)} ms) |`,
    `| utterance's last sample → MQTT message received | p50 ${f(b.latency.end_sample_to_received_p50_ms, 0)} ms, p95 ${f(b.latency.end_sample_to_received_p95_ms, 0)} ms (the detector's decision lag included; the ${400} ms hangover comes before) |`,
    `| RSS replaying ${f(b.memory.audio_minutes, 1)} min (${b.memory.events} events), fast input | start ${f(b.memory.rss_after_start_mb)} MiB, at 10% ${f(b.memory.rss_after_10pct_mb)} MiB, end ${f(b.memory.rss_end_mb)} MiB, max ${f(b.memory.rss_max_mb)} MiB; growth after warm-up ${f(b.memory.growth_after_warmup_mb)} MiB |`,
    "\nCPU is the process's CPU time (all threads; ONNX Runtime and Silero on one thread each, the broker in the same process) divided by the audio's duration; RSS is the child process's (`ser-agent run`, the built launcher as installed), with the unit's NODE_OPTIONS=--max-semi-space-size=1 and MALLOC_ARENA_MAX=2; the input files are decoded one at a time as they play.",
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes("--quick");
  const t0 = performance.now();
  const b = await benchRuntime(quick ? { cpuSeconds: 30, latencyPasses: 1, memoryMinutes: 2 } : {});
  console.log(runtimeMarkdown(b));
  console.log(`\n${JSON.stringify(b)}`);
  console.log(`\n(bench took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

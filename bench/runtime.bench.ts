// The agent end to end (`ser-agent run` minus the command line): file input → energy gate +
// Silero VAD → features → model (one ONNX thread) → MQTT through the embedded broker on
// loopback, measured in this process.
//
// - CPU: process CPU time (all threads) per second of audio, fast file input, for a quiet room
//   (white noise at -70 dBFS) and for continuous speech (RAVDESS clips trimmed to their speech
//   and butted together, so utterances run into the 8 s window limit).
// - Latency: utterance closed by the detector → event received by an MQTT subscriber, and the
//   utterance's last sample → received, with the clips played in real time (1 s gaps).
// - Memory: RSS of `ser-agent run --fast --exit-at-end` (a child process, from the sources via
//   tsx) replaying a long input (the clips with 1 s gaps, repeated); Linux /proc.
//
// Model: models/default when it exists, else a test bundle (small TDNN) built on the fly.
// Run alone: node --conditions=source --import tsx bench/runtime.bench.ts [--quick]
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectAsync } from "mqtt";
import { encodeWav, readAudioFile } from "../agent/src/audio/index.js";
import { loadConfig } from "../agent/src/config/index.js";
import { createLogger } from "../agent/src/log/index.js";
import { Agent, type EmotionEvent, PlaylistSource } from "../agent/src/runtime/index.js";
import { freePort } from "../test/mqtt/helpers.js";
import { buildTestBundle, DEMO_CLIPS, FIXTURE_CLIPS } from "../test/runtime/bundle.js";

const SR = 16000;

export interface RuntimeBenchOptions {
  /** Seconds of audio for each CPU measurement. Default 120. */
  cpuSeconds?: number;
  /** Real-time passes over the 9 clips for the latency figures. Default 2 (~80 s). */
  latencyPasses?: number;
  /** Minutes of audio replayed for the memory figure. Default 10. */
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

const quantile = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : Number.NaN;
};
const mb = (bytes: number) => Math.round((bytes / 1048576) * 10) / 10;

/** 10 ms frames within 30 dB of the clip's loudest: the speech, without the edges. */
function trimToSpeech(x: Float32Array): Float32Array {
  const F = 160;
  const db: number[] = [];
  for (let f = 0; f + F <= x.length; f += F) {
    let s = 0;
    for (let i = f; i < f + F; i++) s += x[i] * x[i];
    db.push(10 * Math.log10(s / F + 1e-20));
  }
  const peak = Math.max(...db);
  const first = db.findIndex((d) => d >= peak - 30);
  let last = db.length - 1;
  while (last > first && db[last] < peak - 30) last--;
  return x.slice(first * F, (last + 1) * F);
}

function repeatTo(parts: Float32Array[], samples: number): Float32Array {
  const out = new Float32Array(samples);
  for (let at = 0, i = 0; at < samples; i++) {
    const p = parts[i % parts.length].subarray(0, samples - at);
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function quietRoom(samples: number): Float32Array {
  let s = 12345;
  const out = new Float32Array(samples);
  const a = 10 ** (-70 / 20);
  for (let i = 0; i < samples; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    const u1 = (s + 1) / 4294967297;
    s = (s * 1103515245 + 12345) >>> 0;
    const u2 = s / 4294967296;
    out[i] = a * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

interface RunResult {
  events: { event: EmotionEvent; closedAt: number; inferenceMs: number; receivedAt: number }[];
  cpuMs: number;
  audioSeconds: number;
}

async function runAgent(
  modelDir: string,
  files: string[],
  opts: { fast: boolean; gapMs?: number },
): Promise<RunResult> {
  const port = await freePort();
  const config = loadConfig({
    env: {},
    hostname: "bench",
    args: [
      "--model-dir",
      modelDir,
      "--mqtt-embedded-port",
      String(port),
      "--device-id",
      "bench",
      "--input-fast",
      String(opts.fast),
    ],
  });
  const logger = createLogger({ level: "error" });
  const source = new PlaylistSource(files, { fast: opts.fast, gapMs: opts.gapMs ?? 1000 });
  const closed = new Map<number, { closedAt: number; inferenceMs: number }>();
  const events: RunResult["events"] = [];
  const agent = new Agent({
    config,
    source,
    logger,
    onEvent: (e, t) => {
      closed.set(e.seq ?? -1, { closedAt: t.closedAt, inferenceMs: t.inferenceMs });
    },
  });
  await agent.prepare();
  const sub = await connectAsync(agent.brokerUrl as string, { clientId: "bench-sub" });
  sub.on("message", (_topic, payload) => {
    const receivedAt = performance.now();
    const event = JSON.parse(payload.toString()) as EmotionEvent;
    const t = closed.get(event.seq ?? -1);
    events.push({
      event,
      closedAt: t?.closedAt ?? Number.NaN,
      inferenceMs: t?.inferenceMs ?? Number.NaN,
      receivedAt: receivedAt + performance.timeOrigin,
    });
  });
  await sub.subscribeAsync(agent.topics.emotion, { qos: 1 });
  const cpu0 = process.cpuUsage();
  await agent.start();
  await agent.ended;
  await agent.settle(30_000);
  const cpu = process.cpuUsage(cpu0);
  const deadline = Date.now() + 5000;
  while (events.length < agent.eventCount && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
  }
  await agent.stop();
  await sub.endAsync(true);
  const audioSeconds = (source.entries.at(-1)?.endSample ?? 0) / SR;
  // closedAt is performance.now(); make receivedAt comparable.
  for (const e of events) e.receivedAt -= performance.timeOrigin;
  return { events, cpuMs: (cpu.user + cpu.system) / 1000, audioSeconds };
}

/** The real command (`ser-agent run --fast --exit-at-end`) in a child, its RSS from /proc. */
async function replayInChild(modelDir: string, files: string[]): Promise<RuntimeBench["memory"]> {
  const root = fileURLToPath(new URL("../", import.meta.url));
  const port = await freePort();
  const child = spawn(
    process.execPath,
    [
      "--conditions=source",
      "--import",
      "tsx",
      join(root, "test/runtime/ser-agent.ts"),
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
      env: { PATH: process.env.PATH, HOME: process.env.HOME },
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
        const j = JSON.parse(line) as { msg: string; seconds?: number };
        if (j.msg === "file source started") seconds = j.seconds ?? 0;
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
  const minutes = options.memoryMinutes ?? 10;
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
    const write = (name: string, x: Float32Array) => {
      const path = join(dir, name);
      writeFileSync(path, encodeWav(x, SR));
      return path;
    };
    const quietFile = write("quiet.wav", quietRoom(cpuSeconds * SR));
    const speechFile = write("speech.wav", repeatTo(decoded.map(trimToSpeech), cpuSeconds * SR));

    // Warm-up (JIT, ONNX Runtime arenas), not measured.
    await runAgent(modelDir, [clips[0]], { fast: true });

    const quiet = await runAgent(modelDir, [quietFile], { fast: true });
    const speech = await runAgent(modelDir, [speechFile], { fast: true });

    const latencyFiles = Array.from({ length: passes }, () => clips).flat();
    const live = await runAgent(modelDir, latencyFiles, { fast: false });
    const closedToReceived = live.events.map((e) => e.receivedAt - e.closedAt);
    const endToReceived = live.events.map(
      (e) => e.receivedAt + performance.timeOrigin - Date.parse(e.event.end),
    );

    const rounds = Math.max(1, Math.round((minutes * 60) / 42));
    const long = await replayInChild(modelDir, Array.from({ length: rounds }, () => clips).flat());
    return {
      model,
      cpu: {
        quiet_ms_per_audio_s: quiet.cpuMs / quiet.audioSeconds,
        speech_ms_per_audio_s: speech.cpuMs / speech.audioSeconds,
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
    "\nCPU is the process's CPU time (all threads; ONNX Runtime and Silero on one thread each, the broker in the same process) divided by the audio's duration; RSS is the child process's (`ser-agent run` from the sources through tsx, whose loader adds a few MiB) and includes the decoded input held in memory (4 bytes per sample).",
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

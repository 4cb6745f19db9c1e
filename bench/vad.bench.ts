// Voice activity detection: frame-level precision / recall / F1 and CPU cost of the candidates
// for stage (b), each behind the energy gate (stage a) and alone, and of the gate alone.
//
// Signal: RAVDESS clips (../shared/data/ravdess, 16 kHz, one per actor in turn) separated by
// 1.5-3.5 s gaps, in sections that all hold the same clips: "quiet" (a -70 dBFS white floor,
// like a quiet microphone) and white / pink noise at 20, 10, 5 and 0 dB SNR (noise power
// against the mean power of the clips' speech frames; clips keep their natural levels). Reference labels come from the clean clips: 10 ms frames within
// 30 dB of the clip's loudest frame, pauses up to 200 ms inside speech filled, blips under
// 30 ms dropped. Everything is deterministic (fixed clip choice and noise seed).
//
// Run alone: node --conditions=source --import tsx bench/vad.bench.ts [--quick]
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "../agent/src/audio/index.js";
import {
  SileroVad,
  type SileroVariant,
  SileroWasmVad,
  type SpeechModel,
  type VadOptions,
  VoiceActivityDetector,
  WebRtcVad,
} from "../agent/src/vad/index.js";

const SR = 16000;
const FRAME = 160;
const CHUNK = 320; // 20 ms pushes, as the microphone delivers them

/** xorshift32 in [0, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function gaussian(rand: () => number): () => number {
  return () => {
    const u = Math.max(rand(), 1e-12);
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
  };
}

/** Unit-power white or pink (Paul Kellet's filter) noise. */
function noise(kind: "white" | "pink", n: number, seed: number): Float32Array {
  const g = gaussian(rng(seed));
  const out = new Float32Array(n);
  if (kind === "white") {
    for (let i = 0; i < n; i++) out[i] = g();
    return out;
  }
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let b3 = 0;
  let b4 = 0;
  let b5 = 0;
  let b6 = 0;
  let power = 0;
  for (let i = 0; i < n; i++) {
    const w = g();
    b0 = 0.99886 * b0 + w * 0.0555179;
    b1 = 0.99332 * b1 + w * 0.0750759;
    b2 = 0.969 * b2 + w * 0.153852;
    b3 = 0.8665 * b3 + w * 0.3104856;
    b4 = 0.55 * b4 + w * 0.5329522;
    b5 = -0.7616 * b5 - w * 0.016898;
    out[i] = b0 + b1 + b2 + b3 + b4 + b5 + b6 + w * 0.5362;
    b6 = w * 0.115926;
    power += out[i] * out[i];
  }
  const k = 1 / Math.sqrt(power / n);
  for (let i = 0; i < n; i++) out[i] *= k;
  return out;
}

function frameDb(x: Float32Array, f: number): number {
  let s = 0;
  for (let i = f * FRAME; i < (f + 1) * FRAME; i++) s += x[i] * x[i];
  return 10 * Math.log10(s / FRAME + 1e-20);
}

/** Reference speech frames of a clean clip (see the header). */
export function referenceLabels(x: Float32Array): Uint8Array {
  const n = Math.floor(x.length / FRAME);
  const db = Array.from({ length: n }, (_, f) => frameDb(x, f));
  const peak = Math.max(...db);
  const lab = new Uint8Array(n).map((_, f) => (db[f] >= peak - 30 ? 1 : 0));
  const runs = (v: number, maxLen: number, to: number, interiorOnly: boolean) => {
    let f = 0;
    while (f < n) {
      if (lab[f] !== v) {
        f++;
        continue;
      }
      let e = f;
      while (e < n && lab[e] === v) e++;
      const interior = f > 0 && e < n;
      if (e - f <= maxLen && (!interiorOnly || interior)) lab.fill(to, f, e);
      f = e;
    }
  };
  runs(0, 20, 1, true); // pauses <= 200 ms inside speech
  runs(1, 2, 0, false); // blips < 30 ms
  return lab;
}

interface Clip {
  name: string;
  x: Float32Array;
  ref: Uint8Array;
  speechPower: number;
}

function ravdessDir(): string | undefined {
  const dir = fileURLToPath(new URL("../../shared/data/ravdess/", import.meta.url));
  return existsSync(dir) ? dir : undefined;
}

async function loadClips(count: number): Promise<Clip[]> {
  const root = ravdessDir();
  const paths: string[] = [];
  if (root) {
    const actors = readdirSync(root)
      .filter((d) => d.startsWith("Actor_"))
      .sort();
    const rand = rng(1234);
    for (let i = 0; paths.length < count; i++) {
      const actor = actors[i % actors.length];
      const files = readdirSync(join(root, actor))
        .filter((f) => f.endsWith(".flac"))
        .sort();
      paths.push(join(root, actor, files[Math.floor(rand() * files.length)]));
    }
  } else {
    const demo = fileURLToPath(new URL("../demo/", import.meta.url));
    const files = readdirSync(demo).filter((f) => /\.(flac|wav)$/.test(f));
    for (let i = 0; paths.length < count; i++) paths.push(join(demo, files[i % files.length]));
  }
  const clips: Clip[] = [];
  for (const p of paths) {
    const x = (await readAudioFile(p)).samples;
    const ref = referenceLabels(x);
    let s = 0;
    let m = 0;
    for (let f = 0; f < ref.length; f++) {
      if (!ref[f]) continue;
      for (let i = f * FRAME; i < (f + 1) * FRAME; i++) s += x[i] * x[i];
      m += FRAME;
    }
    clips.push({ name: p.split("/").slice(-1)[0], x, ref, speechPower: s / Math.max(1, m) });
  }
  return clips;
}

interface Condition {
  name: string;
  noise: "white" | "pink";
  /** SNR in dB, or null: a fixed -70 dBFS floor. */
  snr: number | null;
}

export const CONDITIONS: Condition[] = [
  { name: "quiet", noise: "white", snr: null },
  { name: "white 20 dB", noise: "white", snr: 20 },
  { name: "white 10 dB", noise: "white", snr: 10 },
  { name: "white 5 dB", noise: "white", snr: 5 },
  { name: "white 0 dB", noise: "white", snr: 0 },
  { name: "pink 20 dB", noise: "pink", snr: 20 },
  { name: "pink 10 dB", noise: "pink", snr: 10 },
  { name: "pink 5 dB", noise: "pink", snr: 5 },
  { name: "pink 0 dB", noise: "pink", snr: 0 },
];

interface Section {
  condition: Condition;
  x: Float32Array;
  ref: Uint8Array;
}

function buildSection(condition: Condition, clips: Clip[], seed: number): Section {
  const rand = rng(seed);
  const gapFrames = () => 150 + Math.floor(rand() * 200);
  const lead = 200;
  const frames = lead + clips.reduce((n, c) => n + c.ref.length + 350, 0);
  const x = new Float32Array(frames * FRAME);
  const ref = new Uint8Array(frames);
  let f = lead;
  let power = 0;
  for (const c of clips) {
    x.set(c.x.subarray(0, c.ref.length * FRAME), f * FRAME);
    ref.set(c.ref, f);
    power += c.speechPower;
    f += c.ref.length + gapFrames();
  }
  const total = f * FRAME;
  const level =
    condition.snr === null
      ? 10 ** (-70 / 20)
      : Math.sqrt(power / clips.length / 10 ** (condition.snr / 10));
  const n = noise(condition.noise, total, seed * 7 + 1);
  for (let i = 0; i < total; i++) x[i] += level * n[i];
  return { condition, x: x.subarray(0, total), ref: ref.subarray(0, f) };
}

export interface Scores {
  precision: number;
  recall: number;
  f1: number;
}

function scores(tp: number, fp: number, fn: number): Scores {
  const precision = tp + fp > 0 ? tp / (tp + fp) : 1;
  const recall = tp + fn > 0 ? tp / (tp + fn) : 1;
  const f1 = precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0;
  return { precision, recall, f1 };
}

export interface Candidate {
  name: string;
  gated: boolean;
  model: () => Promise<SpeechModel | undefined>;
  /** Other detector options. */
  options?: Omit<VadOptions, "model">;
}

function candidates(quick: boolean): Candidate[] {
  const silero = (variant: SileroVariant) => () => SileroVad.create({ variant, threads: 1 });
  const webrtc = (mode: 0 | 1 | 2 | 3) => () => WebRtcVad.create({ mode, frameMs: 30 });
  const none = async () => undefined;
  const wasm = async () => new SileroWasmVad();
  const list: Candidate[] = [
    { name: "energy gate alone", gated: true, model: none },
    { name: "WebRTC VAD mode 1", gated: false, model: webrtc(1) },
    { name: "gate + WebRTC VAD mode 1", gated: true, model: webrtc(1) },
    { name: "WebRTC VAD mode 3", gated: false, model: webrtc(3) },
    { name: "gate + WebRTC VAD mode 3", gated: true, model: webrtc(3) },
    { name: "Silero v6 (ifless op18)", gated: false, model: silero("v6-ifless") },
    {
      name: "Silero v6 (ifless op18), public async API",
      gated: false,
      model: () => SileroVad.create({ threads: 1, sync: false }),
    },
    { name: "gate + Silero v6 (ifless op18)", gated: true, model: silero("v6-ifless") },
    { name: "Silero v6 16 kHz in WebAssembly", gated: false, model: wasm },
    { name: "gate + Silero v6 16 kHz in WebAssembly (shipped)", gated: true, model: wasm },
  ];
  if (!quick) {
    list.push(
      { name: "gate + Silero v6 (16k op15)", gated: true, model: silero("v6-16k") },
      { name: "gate + Silero v6 (8k/16k)", gated: true, model: silero("v6") },
      { name: "gate + Silero v6 (half)", gated: true, model: silero("v6-half") },
      {
        name: "gate + Silero v6 (ifless op18) at 8 kHz",
        gated: true,
        model: () => SileroVad.create({ threads: 1, sampleRate: 8000 }),
      },
    );
  }
  return list;
}

async function makeVad(c: Candidate): Promise<VoiceActivityDetector> {
  const model = await c.model();
  return new VoiceActivityDetector({
    ...c.options,
    ...(model ? { model } : {}),
    ...(c.gated ? {} : { gate: false }),
  });
}

/** Runs a VAD over x in 20 ms chunks; returns per-frame speech and model-consulted flags. */
async function runVad(vad: VoiceActivityDetector, x: Float32Array) {
  const n = Math.floor(x.length / FRAME);
  const speech = new Uint8Array(n);
  const consulted = new Uint8Array(n);
  const take = (frames: Awaited<ReturnType<VoiceActivityDetector["push"]>>) => {
    for (const fr of frames) {
      const f = fr.startSample / FRAME;
      speech[f] = fr.speech ? 1 : 0;
      consulted[f] = fr.probability !== undefined ? 1 : 0;
    }
  };
  for (let i = 0; i < x.length; i += CHUNK) take(await vad.push(x.subarray(i, i + CHUNK)));
  take(await vad.flush());
  return { speech, consulted };
}

/** Process CPU (all threads: ONNX Runtime's too) per audio second, best of `runs`. */
async function cpuPerAudioSecond(c: Candidate, x: Float32Array, runs: number) {
  let best = Number.POSITIVE_INFINITY;
  let modelShare = 0;
  for (let r = 0; r < runs; r++) {
    const vad = await makeVad(c);
    await runVad(vad, x.subarray(0, SR)); // warm-up
    const fresh = await makeVad(c);
    const u0 = process.cpuUsage();
    for (let i = 0; i < x.length; i += CHUNK) await fresh.push(x.subarray(i, i + CHUNK));
    await fresh.flush();
    const u = process.cpuUsage(u0);
    const ms = (u.user + u.system) / 1000 / (x.length / SR);
    if (ms < best) {
      best = ms;
      const w = fresh.model?.windowSamples ?? 0;
      modelShare = (fresh.stats.modelWindows * w) / x.length;
    }
    await fresh.model?.dispose();
    await vad.model?.dispose();
  }
  return { ms: best, modelShare };
}

/** Frame scores of one candidate over all sections. */
async function evaluate(c: Candidate, sections: Section[]) {
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let nonSpeech = 0;
  let consultedNonSpeech = 0;
  const byCondition: Record<string, Scores> = {};
  for (const s of sections) {
    const vad = await makeVad(c);
    const out = await runVad(vad, s.x);
    await vad.model?.dispose();
    let t = 0;
    let p = 0;
    let n = 0;
    for (let f = 0; f < s.ref.length; f++) {
      const r = s.ref[f];
      const h = out.speech[f];
      if (r && h) t++;
      else if (h) p++;
      else if (r) n++;
      if (!r) {
        nonSpeech++;
        consultedNonSpeech += out.consulted[f];
      }
    }
    byCondition[s.condition.name] = scores(t, p, n);
    tp += t;
    fp += p;
    fn += n;
  }
  return {
    overall: scores(tp, fp, fn),
    byCondition,
    modelOnNonSpeech: consultedNonSpeech / nonSpeech,
  };
}

export interface VadCandidateResult {
  name: string;
  /** All sections together. */
  overall: Scores;
  byCondition: Record<string, Scores>;
  /** Share of reference non-speech frames (gaps and clip edges) on which stage (b) ran. */
  modelOnNonSpeech: number;
  /**
   * Process CPU ms per audio second: a quiet room (-70 dBFS), steady pink noise (10 dB below
   * the first clip's speech; the gate's first 2 s are its warm-up), continuous speech.
   */
  cpu: { quiet: number; noise: number; speech: number };
  /** Share of the audio the model processed in those three signals. */
  modelShare: { quiet: number; noise: number; speech: number };
}

export interface VadBench {
  clips: number;
  audio_seconds: number;
  speech_share: number;
  results: VadCandidateResult[];
}

export interface BenchVadOptions {
  /** Clips (default 16), each heard in all 9 conditions. */
  clipsPerSection?: number;
  /** Fewer candidates. */
  quick?: boolean;
  /** Length of each CPU signal (default 60 s). */
  cpuSeconds?: number;
  /** Replaces the built-in candidate list. */
  candidates?: Candidate[];
  /** Skip the CPU measurements. */
  skipCpu?: boolean;
}

export async function benchVad(options: BenchVadOptions = {}): Promise<VadBench> {
  const perSection = options.clipsPerSection ?? 16;
  const clips = await loadClips(perSection);
  const sections = CONDITIONS.map((c, k) => buildSection(c, clips, 100 + k));
  const seconds = sections.reduce((s, x) => s + x.x.length / SR, 0);
  const refFrames = sections.reduce((s, x) => s + x.ref.reduce((a, b) => a + b, 0), 0);
  const allFrames = sections.reduce((s, x) => s + x.ref.length, 0);

  // CPU signals: a quiet room, steady pink noise, and speech without gaps.
  const cpuSeconds = options.cpuSeconds ?? 60;
  const quiet = noise("white", cpuSeconds * SR, 9).map((v) => v * 10 ** (-70 / 20));
  const pinkLevel = Math.sqrt(clips[0].speechPower / 10);
  const steady = noise("pink", cpuSeconds * SR, 10).map((v) => v * pinkLevel);
  const speech = new Float32Array(cpuSeconds * SR);
  for (let at = 0, k = 0; at < speech.length; k++) {
    const c = clips[k % clips.length];
    const first = c.ref.indexOf(1);
    const last = c.ref.lastIndexOf(1);
    const part = c.x.subarray(first * FRAME, (last + 1) * FRAME);
    speech.set(part.subarray(0, speech.length - at), at);
    at += part.length;
  }
  for (let i = 0; i < speech.length; i++) speech[i] += quiet[i];

  const results: VadCandidateResult[] = [];
  for (const c of options.candidates ?? candidates(options.quick ?? false)) {
    const { overall, byCondition, modelOnNonSpeech } = await evaluate(c, sections);
    const runs = 2;
    const none = { ms: Number.NaN, modelShare: Number.NaN };
    const q = options.skipCpu ? none : await cpuPerAudioSecond(c, quiet, runs);
    const nz = options.skipCpu ? none : await cpuPerAudioSecond(c, steady, runs);
    const sp = options.skipCpu ? none : await cpuPerAudioSecond(c, speech, runs);
    results.push({
      name: c.name,
      overall,
      byCondition,
      modelOnNonSpeech,
      cpu: { quiet: q.ms, noise: nz.ms, speech: sp.ms },
      modelShare: { quiet: q.modelShare, noise: nz.modelShare, speech: sp.modelShare },
    });
  }
  return {
    clips: clips.length,
    audio_seconds: seconds,
    speech_share: refFrames / allFrames,
    results,
  };
}

export function vadMarkdown(b: VadBench): string {
  const pct = (x: number) => `${(100 * x).toFixed(1)}`;
  const f2 = (x: number) => x.toFixed(3);
  const lines: string[] = [];
  lines.push(
    `${b.clips} RAVDESS clips, ${b.audio_seconds.toFixed(0)} s of audio (${pct(b.speech_share)}% speech frames), 10 ms frames.\n`,
  );
  lines.push(
    "| VAD | P | R | F1 | F1 quiet | F1 white 20/10/5/0 dB | F1 pink 20/10/5/0 dB | (b) runs on non-speech | CPU ms/audio-s quiet | steady noise | speech |",
  );
  lines.push("|---|---|---|---|---|---|---|---|---|---|---|");
  for (const r of b.results) {
    const c = r.byCondition;
    const row = (kind: string) =>
      [20, 10, 5, 0].map((snr) => f2(c[`${kind} ${snr} dB`]?.f1 ?? Number.NaN)).join(" / ");
    const consulted = r.name === "energy gate alone" ? "-" : `${pct(r.modelOnNonSpeech)}%`;
    lines.push(
      `| ${r.name} | ${f2(r.overall.precision)} | ${f2(r.overall.recall)} | ${f2(r.overall.f1)} | ${f2(c.quiet?.f1 ?? Number.NaN)} | ${row("white")} | ${row("pink")} | ${consulted} | ${r.cpu.quiet.toFixed(2)} | ${r.cpu.noise.toFixed(2)} | ${r.cpu.speech.toFixed(2)} |`,
    );
  }
  lines.push(
    "\n(b) runs on non-speech: share of reference non-speech frames on which stage (b) was consulted. " +
      "CPU: process CPU time (all threads) per second of audio, 20 ms chunks, best of 2.",
  );
  lines.push(
    "\nShare of audio stage (b) processed: quiet / steady pink noise / continuous speech:",
  );
  for (const r of b.results) {
    if (r.name === "energy gate alone") continue;
    const s = r.modelShare;
    lines.push(`- ${r.name}: ${pct(s.quiet)}% / ${pct(s.noise)}% / ${pct(s.speech)}%`);
  }
  return lines.join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const quick = process.argv.includes("--quick");
  const t0 = performance.now();
  const b = await benchVad({ quick, ...(quick ? { clipsPerSection: 6, cpuSeconds: 10 } : {}) });
  console.log(vadMarkdown(b));
  console.log(`\n(bench took ${((performance.now() - t0) / 1000).toFixed(0)} s)`);
}

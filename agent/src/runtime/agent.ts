import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type {
  AudioSource,
  CaptureError,
  CaptureErrorCode,
  EndReason,
  RetryInfo,
} from "../capture/index.js";
import { CAPTURE_SAMPLE_RATE, FileSource, MicrophoneSource } from "../capture/index.js";
import type { AgentConfig } from "../config/index.js";
import { loadPublicKeys, type ModelRunner } from "../model/index.js";
import {
  buildTopics,
  fleetModelTopic,
  type MessageHandler,
  type ModelInfo,
  MqttPublisher,
  type Topics,
  UNKNOWN_LABEL,
} from "../mqtt/index.js";
import type { Classification } from "../pipeline/index.js";
import { ModelStore, RolloutManager } from "../rollout/index.js";
import { type Notifier, nullNotifier } from "../service/index.js";
import type { Utterance } from "../vad/index.js";
import { type BrokerChoice, type BrokerOptions, chooseBroker } from "./broker.js";
import {
  classifierFor,
  loadClassifier,
  type ModelClassifier,
  type UtteranceClassifier,
} from "./classifier.js";
import { SampleClock } from "./clock.js";
import { createUtteranceStream, type UtteranceStream } from "./detector.js";
import { CpuMeter, rssMb } from "./health.js";
import { InferenceQueue } from "./inference-queue.js";
import { PlaylistSource } from "./playlist.js";
import type { AgentStatus, EmotionEvent, Logger } from "./types.js";

/** What the agent needs of its MQTT side (MqttPublisher has it). */
export interface Publisher {
  readonly connected: boolean;
  start(): void;
  publishEmotion(event: EmotionEvent): boolean;
  stats(): { reconnects: number; depth: number };
  /** Resolves true once everything queued was delivered, false after `timeoutMs`. */
  flush(timeoutMs: number): Promise<boolean>;
  /** Delivers what it can, publishes availability `offline`, disconnects. */
  close(timeoutMs?: number): Promise<void>;
  /** For model rollout (optional: without them, rollout is off). */
  subscribe?(topic: string, handler: MessageHandler): void;
  publishRetained?(topic: string, payload: string): boolean;
  /** The model changed: restate what names it (Home Assistant discovery). */
  setModel?(model: ModelInfo): void;
}

/** What a publisher is built from, once the model and the broker are known. */
export interface PublisherContext {
  url: string;
  model: ModelInfo;
  getStatus: () => AgentStatus;
  logger: Logger;
}

/** Timing of one event, for benchmarks and the log. */
export interface EventTiming {
  /** performance.now() when the detector closed the utterance. */
  closedAt: number;
  /** performance.now() when the event was handed to the publisher. */
  publishedAt: number;
  /** Features + model, ms. */
  inferenceMs: number;
}

export interface AgentOptions {
  config: AgentConfig;
  /** The audio input (not started yet); the agent starts and stops it. */
  source: AudioSource;
  /** Words for the source in STATUS= lines and logs, e.g. "microphone default". */
  sourceName?: string;
  logger: Logger;
  /** systemd notifications (default: none). */
  notifier?: Notifier;
  /** WATCHDOG=1 period in ms (see watchdogIntervalMs); undefined: no watchdog. */
  watchdogMs?: number;
  /** Default: the bundle in config.model.dir, self-tested. */
  loadClassifier?: () => Promise<UtteranceClassifier>;
  /** Default: energy gate + Silero VAD + segmenter, from config.vad. */
  createDetector?: () => Promise<UtteranceStream>;
  /** Default: MqttPublisher from config.mqtt. */
  createPublisher?: (ctx: PublisherContext) => Publisher;
  broker?: BrokerOptions;
  /**
   * Wait for room in the inference queue instead of dropping the oldest utterance (default:
   * when the source can wait, i.e. a file played with input.fast). A live source cannot.
   */
  waitForInference?: boolean;
  /** stop() gives up waiting for inference and delivery after this long. Default 4,000 ms. */
  stopTimeoutMs?: number;
  /** Called after each event was handed to the publisher. */
  onEvent?: (event: EmotionEvent, timing: EventTiming) => void;
}

type Phase =
  | "idle"
  | "loading model"
  | "waiting for audio"
  | "listening"
  | "audio lost, retrying"
  | "input ended"
  | "stopping"
  | "stopped";

interface Job {
  utterance: Utterance;
  startMs: number;
  endMs: number;
  closedAt: number;
}

const round4 = (p: number) => Math.round(p * 1e4) / 1e4;

/** Capture failures after which the source restarts the device by itself. */
const RETRIED = new Set<CaptureErrorCode>(["DEVICE_LOST", "DEVICE_STALLED", "SPAWN_FAILED"]);

/**
 * The agent's main job: audio source → voice activity → utterances → bounded inference queue →
 * model → EmotionEvent → MQTT.
 *
 * Life cycle: start() loads and self-tests the model, builds the detector, connects MQTT (the
 * embedded broker when mqtt.url is empty), starts the audio, and resolves once audio flows; it
 * then sends READY=1. WATCHDOG=1 is sent from the audio loop itself, so a stalled loop stops the
 * pings (also while the microphone is being restarted after a failure, and while idle after the
 * input ended, since the loop is legitimately waiting then). STATUS= lines follow the state.
 * stop() sends STOPPING=1, stops the capture, ends the current utterance, lets the inference
 * queue drain, delivers the outbox, publishes `offline` and closes MQTT, all within
 * stopTimeoutMs (plus the broker's close).
 */
export class Agent {
  readonly config: AgentConfig;
  readonly topics: Topics;
  /** Resolves with why the audio input ended (also "stopped" after stop()). */
  readonly ended: Promise<EndReason>;
  private readonly opts: AgentOptions;
  private readonly logger: Logger;
  private readonly notifier: Notifier;
  private readonly source: AudioSource;
  private readonly sourceName: string;
  private readonly clock: SampleClock;
  private readonly queue: InferenceQueue<Job>;
  private readonly cpu = new CpuMeter();
  private readonly startedAt = performance.now();
  private classifier: UtteranceClassifier | undefined;
  /** Inferences running per classifier, so a swapped-out one is released only when idle. */
  private readonly inUse = new Map<UtteranceClassifier, number>();
  private readonly retired = new Set<UtteranceClassifier>();
  private rollout: RolloutManager | undefined;
  private detector: UtteranceStream | undefined;
  private broker: BrokerChoice | undefined;
  private publisher: Publisher | undefined;
  private tempOutbox: string | undefined;
  private phase: Phase = "idle";
  private lastStatusLine = "";
  private preparing: Promise<void> | undefined;
  private starting: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private stopRequested = false;
  private loop: Promise<void> | undefined;
  private resolveEnded!: (reason: EndReason) => void;
  private endReason: EndReason | undefined;
  private lastPing = Number.NEGATIVE_INFINITY;
  private ready = false;
  private outage = false;
  private timers: NodeJS.Timeout[] = [];
  private seq = 0;
  private published = 0;
  private failed = 0;

  constructor(opts: AgentOptions) {
    this.opts = opts;
    this.config = opts.config;
    this.logger = opts.logger;
    this.notifier = opts.notifier ?? nullNotifier;
    this.source = opts.source;
    this.sourceName = opts.sourceName ?? describeSource(opts.source);
    this.topics = buildTopics({
      base: this.config.mqtt.baseTopic,
      deviceId: this.config.device.id,
    });
    const v = this.config.vad;
    // Times may be asked for as far back as the longest utterance plus its pre-roll, behind the
    // VAD's own look-back; twice that is plenty.
    this.clock = new SampleClock(
      Math.ceil(((2 * (v.maxUtteranceMs + v.preRollMs) + 5000) * CAPTURE_SAMPLE_RATE) / 1000),
    );
    this.queue = new InferenceQueue<Job>({
      capacity: this.config.inference.queueLength,
      run: (job) => this.infer(job),
      onDrop: (job) => {
        this.logger.warn("inference is behind: dropped the oldest waiting utterance", {
          start: new Date(job.startMs).toISOString(),
          duration_ms: Math.round(
            ((job.utterance.endSample - job.utterance.startSample) * 1000) / CAPTURE_SAMPLE_RATE,
          ),
          dropped: this.queue.stats().dropped,
          queue_length: this.config.inference.queueLength,
        });
      },
      onError: (err) => {
        this.failed++;
        this.logger.error("utterance could not be classified", { error: err });
        this.rollout?.noteModelError(err);
      },
    });
    this.ended = new Promise((resolve) => {
      this.resolveEnded = resolve;
    });
  }

  /** The broker URL in use (known after prepare()). */
  get brokerUrl(): string | undefined {
    return this.broker?.url;
  }

  /** The model in use (after prepare()). */
  get model(): UtteranceClassifier["model"] | undefined {
    return this.classifier?.model;
  }

  /** Events handed to the publisher so far. */
  get eventCount(): number {
    return this.published;
  }

  /** Health figures, as published on the status topic. */
  status(): AgentStatus {
    const q = this.queue.stats();
    return {
      device: this.config.device.id,
      uptime_s: Math.round((performance.now() - this.startedAt) / 1000),
      cpu_percent: this.cpu.percent(),
      rss_mb: rssMb(),
      utterances: this.published,
      dropped: q.dropped,
      queue_depth: q.depth,
      model_version: this.classifier?.model.version ?? "",
      reconnects: this.publisher?.stats().reconnects ?? 0,
      ...(this.config.device.fleet ? { fleet: this.config.device.fleet } : {}),
    };
  }

  /**
   * Loads and self-tests the model, builds the detector, starts the broker (if embedded) and the
   * publisher. Audio does not flow yet; start() calls this if needed.
   */
  prepare(): Promise<void> {
    this.preparing ??= this.doPrepare().catch(async (err) => {
      await this.release();
      throw err;
    });
    return this.preparing;
  }

  /** Prepares, starts the audio, and resolves once the first audio arrived (READY=1 sent). */
  start(): Promise<void> {
    this.starting ??= this.doStart();
    return this.starting;
  }

  /** Resolves once nothing waits for inference and the outbox is empty (or `timeoutMs` passed). */
  async settle(timeoutMs: number): Promise<boolean> {
    const deadline = performance.now() + timeoutMs;
    const drained = await this.queue.drain(timeoutMs);
    const left = Math.max(0, deadline - performance.now());
    const flushed = this.publisher ? await this.publisher.flush(left) : true;
    return drained && flushed;
  }

  /** Stops everything (see the class comment); idempotent. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  // --- start-up ---

  private async doPrepare(): Promise<void> {
    const c = this.config;
    this.setPhase("loading model");
    this.rollout = await this.createRollout();
    const load = (dir: string, requireSignature: boolean) =>
      loadClassifier(dir, {
        threads: c.inference.threads,
        runtime: c.inference.runtime,
        trustedKeys: requireSignature ? c.model.trustedKeys : "",
        logger: this.logger,
      });
    this.classifier = this.opts.loadClassifier
      ? await this.opts.loadClassifier()
      : this.rollout
        ? await this.rollout.startup(load)
        : await load(c.model.dir, c.model.requireSignature);
    const model = this.classifier.model;
    this.logger.info("model loaded and self-tested", {
      dir: this.rollout
        ? this.rollout.store.pathOf(this.rollout.store.pointer.current)
        : c.model.dir,
      name: model.name,
      version: model.version,
      labels: model.labels,
      runtime: this.classifier.runtime,
      ...(this.classifier.runtime === "onnxruntime" ? { threads: c.inference.threads } : {}),
    });
    this.detector = await (this.opts.createDetector ?? (() => createUtteranceStream(c.vad)))();
    this.broker = await chooseBroker(c, this.logger, this.opts.broker);
    const ctx: PublisherContext = {
      url: this.broker.url,
      model: { name: model.name, version: model.version, labels: [...model.labels] },
      getStatus: () => this.status(),
      logger: this.logger,
    };
    this.publisher = (this.opts.createPublisher ?? ((x) => this.mqttPublisher(x)))(ctx);
    const publisher = this.publisher;
    if (this.rollout && publisher.subscribe && publisher.publishRetained) {
      this.rollout.attach(
        {
          subscribe: (topic, handler) => publisher.subscribe?.(topic, handler),
          publishRetained: (topic, payload) => publisher.publishRetained?.(topic, payload) ?? false,
        },
        {
          manifest: () => (this.classifier as ModelClassifier).manifest,
          swap: (runner) => this.swapModel(runner),
        },
      );
    }
    this.publisher.start();
  }

  /**
   * Remote rollout (rollout/), when configured: a trust store, a directory to keep bundles in,
   * and the model loaded by the agent itself. Says why when it is off.
   */
  private async createRollout(): Promise<RolloutManager | undefined> {
    const c = this.config;
    if (!c.rollout.enabled || this.opts.loadClassifier) return undefined;
    const off = (why: string) => {
      this.logger.info(`remote model rollout is off: ${why}`);
      return undefined;
    };
    if (c.model.trustedKeys === "") {
      return off("model.trustedKeys is empty (only models signed by a trusted key are accepted)");
    }
    if (c.rollout.dir === "") {
      return off(
        "no rollout.dir to keep models in (set it, or run under systemd with StateDirectory=)",
      );
    }
    const keys = await loadPublicKeys(c.model.trustedKeys);
    const store = await ModelStore.open(c.rollout.dir, c.model.dir);
    const fleet = c.device.fleet;
    const manager = new RolloutManager({
      store,
      keys,
      requireInstalledSignature: c.model.requireSignature,
      device: c.device.id,
      ...(fleet ? { fleet } : {}),
      topics: {
        set: this.topics.modelSet,
        state: this.topics.modelState,
        ...(fleet ? { fleet: fleetModelTopic(c.mqtt.baseTopic, fleet) } : {}),
      },
      maxBytes: c.rollout.maxBytes,
      probationMs: c.rollout.probationSec * 1000,
      maxModelErrors: c.rollout.maxModelErrors,
      threads: c.inference.threads,
      runtime: c.inference.runtime,
      logger: this.logger,
    });
    this.logger.info("remote model rollout is on", {
      topics: [this.topics.modelSet, ...(fleet ? [fleetModelTopic(c.mqtt.baseTopic, fleet)] : [])],
      dir: c.rollout.dir,
      keys: keys.length,
    });
    return manager;
  }

  /**
   * Puts a verified model to work between two utterances: the audio loop never waits, the
   * utterance being classified finishes on the old model, which is released afterwards.
   */
  private async swapModel(runner: ModelRunner): Promise<void> {
    const next = await classifierFor(runner, this.logger);
    const old = this.classifier;
    this.classifier = next;
    this.publisher?.setModel?.({
      name: next.model.name,
      version: next.model.version,
      labels: [...next.model.labels],
    });
    if (old) {
      if ((this.inUse.get(old) ?? 0) === 0) await old.release();
      else this.retired.add(old);
    }
  }

  private mqttPublisher(ctx: PublisherContext): MqttPublisher {
    const m = this.config.mqtt;
    let outboxDir = m.outbox.dir;
    if (outboxDir === "") {
      // No state directory: events wait in memory (tmpfs when there is one), lost on exit.
      const base = process.platform === "linux" ? "/dev/shm" : tmpdir();
      try {
        outboxDir = mkdtempSync(join(base, "ser-agent-outbox-"));
      } catch {
        outboxDir = mkdtempSync(join(tmpdir(), "ser-agent-outbox-"));
      }
      this.tempOutbox = outboxDir;
    }
    const tls = /^(mqtts|tls|wss|ssl):/.test(ctx.url);
    return new MqttPublisher({
      url: ctx.url,
      clientId: m.clientId,
      ...(m.username ? { username: m.username } : {}),
      ...(m.password ? { password: m.password } : {}),
      ...(tls && (m.ca || m.cert || m.key)
        ? {
            tls: {
              ...(m.ca ? { ca: m.ca } : {}),
              ...(m.cert ? { cert: m.cert } : {}),
              ...(m.key ? { key: m.key } : {}),
            },
          }
        : {}),
      base: m.baseTopic,
      deviceId: this.config.device.id,
      model: ctx.model,
      discovery: m.homeAssistant.discovery
        ? { prefix: m.homeAssistant.prefix, mode: m.homeAssistant.layout }
        : false,
      outboxDir,
      outbox: {
        maxMessages: m.outbox.maxMessages,
        maxBytes: m.outbox.maxBytes,
        fsync: this.tempOutbox === undefined,
      },
      keepaliveS: m.keepaliveSec,
      reconnectPeriodMs: m.reconnectPeriodMs,
      statusIntervalS: m.statusIntervalSec,
      getStatus: ctx.getStatus,
      closeTimeoutMs: 2000,
      logger: ctx.logger,
    });
  }

  private async doStart(): Promise<void> {
    await this.prepare();
    if (this.stopRequested) return;
    this.setPhase("waiting for audio");
    this.watchSource();
    let firstAudio!: () => void;
    const flowing = new Promise<void>((resolve) => {
      firstAudio = resolve;
    });
    this.loop = this.audioLoop(firstAudio);
    try {
      // The loop rejects only if the source failed before any audio (e.g. an unreadable file).
      await Promise.race([flowing, this.loop]);
    } catch (err) {
      await this.stop();
      throw err;
    }
    if (this.stopRequested) return;
    this.ready = true;
    this.notifier.ready();
    if (this.endReason === undefined) this.setPhase("listening");
    this.logger.info("agent running", {
      source: this.sourceName,
      mqtt: this.broker?.url,
      topic: this.topics.emotion,
      watchdog_ms: this.opts.watchdogMs,
    });
    const monitor = setInterval(() => this.sendStatusLine(), 1000);
    monitor.unref();
    this.timers.push(monitor);
    if (this.opts.watchdogMs !== undefined) {
      // While the loop legitimately waits (microphone restarting, input over), ping from here.
      const idle = setInterval(() => {
        if (this.outage || this.endReason !== undefined) this.ping();
      }, this.opts.watchdogMs);
      idle.unref();
      this.timers.push(idle);
    }
  }

  private watchSource(): void {
    const s = this.source;
    s.on("error", (err: CaptureError) => {
      // The source has logged it. Device failures are retried by the source: an outage.
      if (!RETRIED.has(err.code)) return;
      this.outage = true;
      this.setPhase("audio lost, retrying", err.message);
    });
    s.on("retry", (info: RetryInfo) => {
      this.logger.debug("audio input restart scheduled", {
        attempt: info.attempt,
        delay_ms: info.delayMs,
      });
    });
    s.on("recovered", (info) => {
      this.outage = false;
      this.logger.info("audio input recovered", {
        attempts: info.attempts,
        downtime_ms: info.downtimeMs,
      });
      if (!this.stopRequested) this.setPhase("listening");
    });
    s.once("end", (reason) => {
      this.endReason ??= reason;
    });
  }

  // --- the audio loop ---

  private async audioLoop(firstAudio: () => void): Promise<void> {
    const detector = this.detector as UtteranceStream;
    let failure: unknown;
    try {
      for await (const chunk of this.source) {
        if (this.stopRequested) break;
        if (this.clock.position === 0) firstAudio();
        this.clock.note(chunk.timeMs, chunk.samples.length);
        this.ping();
        for (const u of await detector.push(chunk)) await this.enqueue(u);
      }
    } catch (err) {
      failure = err;
    }
    try {
      // The end of the input, or stop(): the utterance in progress ends here.
      for (const u of await detector.flush()) await this.enqueue(u);
    } catch (err) {
      failure ??= err;
    }
    if (failure !== undefined) {
      this.endReason = "error";
      // Before any audio, start() reports it (and stop() settles `ended`).
      if (!this.ready && this.clock.position === 0) throw failure;
      this.logger.error("audio input failed", { source: this.sourceName, error: failure });
      this.resolveEnded("error");
      return;
    }
    firstAudio();
    const reason: EndReason = this.stopRequested ? "stopped" : (this.endReason ?? "eof");
    this.endReason = reason;
    if (!this.stopRequested) {
      this.logger.info("audio input ended", {
        source: this.sourceName,
        reason,
        audio_s: Math.round((this.clock.position / CAPTURE_SAMPLE_RATE) * 1000) / 1000,
      });
      this.setPhase("input ended", reason);
    }
    this.resolveEnded(reason);
  }

  private async enqueue(u: Utterance): Promise<void> {
    const job: Job = {
      utterance: u,
      startMs: this.clock.timeOf(u.startSample),
      endMs: this.clock.timeOf(u.endSample - 1),
      closedAt: performance.now(),
    };
    if (this.opts.waitForInference ?? this.defaultWait()) await this.queue.waitForRoom();
    // stop() gave up waiting for this loop and closed the queue: too late for this utterance.
    if (this.queue.closed) return;
    this.queue.push(job);
  }

  private defaultWait(): boolean {
    return this.source.kind === "file" && this.config.input.fast;
  }

  private ping(): void {
    if (this.opts.watchdogMs === undefined || !this.ready || this.stopRequested) return;
    const now = performance.now();
    if (now - this.lastPing < this.opts.watchdogMs) return;
    this.lastPing = now;
    this.notifier.watchdog();
  }

  // --- inference and publication ---

  private async infer(job: Job): Promise<void> {
    const classifier = this.classifier as UtteranceClassifier;
    const publisher = this.publisher as Publisher;
    const t0 = performance.now();
    this.inUse.set(classifier, (this.inUse.get(classifier) ?? 0) + 1);
    let c: Classification;
    try {
      c = await classifier.classify(job.utterance.samples);
    } finally {
      const n = (this.inUse.get(classifier) ?? 1) - 1;
      if (n > 0) this.inUse.set(classifier, n);
      else {
        this.inUse.delete(classifier);
        if (this.retired.delete(classifier)) await classifier.release();
      }
    }
    const inferenceMs = performance.now() - t0;
    const event = this.toEvent(job, c, classifier);
    publisher.publishEmotion(event);
    this.published++;
    const publishedAt = performance.now();
    this.logger.info("emotion", {
      seq: event.seq,
      label: event.label,
      confidence: event.confidence,
      start: event.start,
      duration_ms: event.duration_ms,
      ...(event.window ? { window: event.window } : {}),
      inference_ms: Math.round(inferenceMs * 10) / 10,
      queue_depth: this.queue.depth,
    });
    this.opts.onEvent?.(event, { closedAt: job.closedAt, publishedAt, inferenceMs });
  }

  private toEvent(job: Job, c: Classification, classifier: UtteranceClassifier): EmotionEvent {
    const u = job.utterance;
    const model = classifier.model;
    const scores: Record<string, number> = {};
    for (const label of model.labels) scores[label] = round4(c.scores[label] ?? 0);
    const sure = c.confidence >= this.config.inference.confidenceThreshold;
    const event: EmotionEvent = {
      device: this.config.device.id,
      start: new Date(Math.round(job.startMs)).toISOString(),
      end: new Date(Math.round(job.endMs)).toISOString(),
      duration_ms: Math.round(((u.endSample - u.startSample) * 1000) / CAPTURE_SAMPLE_RATE),
      label: sure ? c.label : UNKNOWN_LABEL,
      confidence: round4(c.confidence),
      scores,
      model: { name: model.name, version: model.version },
      seq: ++this.seq,
    };
    if (u.window) event.window = { ...u.window };
    return event;
  }

  // --- status ---

  private setPhase(phase: Phase, detail?: string): void {
    this.phase = phase;
    this.sendStatusLine(detail);
  }

  /** One STATUS= line for systemctl status, sent when it changes. */
  private sendStatusLine(detail?: string): void {
    const mqtt = this.publisher
      ? `MQTT ${this.publisher.connected ? "connected to" : "connecting to"} ${this.broker?.url}`
      : "";
    const parts = [
      `${this.phase}${detail ? `: ${detail}` : ""}`,
      this.phase === "listening" ? this.sourceName : "",
      mqtt,
    ].filter(Boolean);
    const line = parts.join("; ");
    if (line === this.lastStatusLine) return;
    this.lastStatusLine = line;
    this.notifier.status(line);
  }

  // --- shutdown ---

  private async doStop(): Promise<void> {
    this.stopRequested = true;
    const limit = this.opts.stopTimeoutMs ?? 4000;
    const deadline = performance.now() + limit;
    const left = () => Math.max(0, deadline - performance.now());
    this.notifier.stopping();
    this.setPhase("stopping");
    this.logger.info("agent stopping", { utterances: this.published });
    // Start-up may be in its model loading: let it get to a point where it can be undone.
    await withTimeout(
      this.preparing?.catch(() => {}),
      left(),
    );
    await this.source.stop().catch((err) => {
      this.logger.warn("audio input did not stop cleanly", { error: err });
    });
    await withTimeout(
      this.loop?.catch(() => {}),
      left(),
    );
    // Inference gets what is left of the budget but the MQTT close's share.
    const drained = await this.queue.drain(Math.max(0, left() - 1500));
    const abandoned = this.queue.close();
    if (!drained || abandoned.length > 0) {
      this.logger.warn("stopping: utterances left unclassified", {
        abandoned: abandoned.length,
        running: this.queue.busy,
      });
    }
    // A rollout in progress finishes (its report goes out with the outbox); probation is kept.
    await withTimeout(this.rollout?.stop(), Math.max(0, left() - 1000));
    await this.release(Math.max(500, left()));
    this.resolveEnded("stopped");
    const q = this.queue.stats();
    this.logger.info("agent stopped", {
      utterances: this.published,
      dropped: q.dropped,
      failed: this.failed,
    });
    this.phase = "stopped";
    await withTimeout(this.notifier.flush(), 1000);
  }

  /** Closes what was opened, in reverse order; never throws. */
  private async release(publisherMs = 2000): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    const step = async (what: string, f: () => Promise<unknown> | undefined) => {
      try {
        await f();
      } catch (err) {
        this.logger.warn(`stopping: ${what} failed`, { error: err });
      }
    };
    const { publisher, broker, detector, classifier } = this;
    this.publisher = undefined;
    this.detector = undefined;
    this.classifier = undefined;
    if (broker) this.broker = { url: broker.url };
    await step("mqtt close", () => publisher?.close(publisherMs));
    await step("embedded broker close", () => broker?.embedded?.close());
    // Never release the session under a running inference.
    if (this.queue.busy) await withTimeout(this.queue.drain(), 1000);
    await step("detector release", () => detector?.dispose());
    await step("model release", () => classifier?.release());
    for (const old of this.retired) await step("model release", () => old.release());
    this.retired.clear();
    if (this.tempOutbox) rmSync(this.tempOutbox, { recursive: true, force: true });
    this.tempOutbox = undefined;
  }
}

/** Words for a source in logs and STATUS= lines: "3 files", "microphone default", "stdin". */
export function describeSource(source: AudioSource): string {
  if (source instanceof PlaylistSource) {
    return source.files.length === 1 ? source.files[0] : `${source.files.length} files`;
  }
  if (source instanceof MicrophoneSource) return `microphone ${source.device}`;
  if (source instanceof FileSource) return source.path;
  return source.kind;
}

/** Waits for `p` at most `ms` (undefined p: nothing to wait for). */
function withTimeout(p: Promise<unknown> | undefined, ms: number): Promise<void> {
  if (!p) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    p.then(
      () => {
        clearTimeout(timer);
        resolve();
      },
      () => {
        clearTimeout(timer);
        resolve();
      },
    );
  });
}

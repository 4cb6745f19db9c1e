import { EventEmitter } from "node:events";
import type { Logger } from "../runtime/types.js";
import {
  type AudioChunk,
  type AudioSource,
  type AudioSourceEvents,
  type AudioSourceKind,
  CAPTURE_SAMPLE_RATE,
  type CaptureError,
  type EndReason,
} from "./types.js";

export interface BaseSourceOptions {
  /** Errors, retries and recoveries are logged here (warn / info). */
  logger?: Logger;
  /** Chunks an async iterator may hold before the source is paused (or drops). Default 256. */
  maxQueuedChunks?: number;
  /**
   * Audio an async iterator may hold, in seconds, whatever the chunk size (stdin hands over
   * 64 KiB, 2 s, per chunk): the same pause-or-drop applies. Default 10.
   */
  maxQueuedSeconds?: number;
}

/**
 * Common plumbing of the sources: the running sample count, "error" events that cannot crash
 * the process, the single "end", and the async iterator with its bounded queue.
 */
export abstract class BaseAudioSource
  extends EventEmitter<AudioSourceEvents>
  implements AudioSource
{
  abstract readonly kind: AudioSourceKind;
  readonly sampleRate = CAPTURE_SAMPLE_RATE;
  protected readonly logger: Logger | undefined;
  protected readonly maxQueuedChunks: number;
  protected readonly maxQueuedSamples: number;
  private delivered = 0;
  private dropped = 0;
  private current: "idle" | "running" | "ended" = "idle";
  private endError: CaptureError | undefined;
  /** Iterators that asked for a pause and have not released it. */
  private pausedBy = 0;

  constructor(options: BaseSourceOptions = {}) {
    super();
    this.logger = options.logger;
    this.maxQueuedChunks = Math.max(1, options.maxQueuedChunks ?? 256);
    this.maxQueuedSamples = Math.max(
      1,
      Math.round((options.maxQueuedSeconds ?? 10) * CAPTURE_SAMPLE_RATE),
    );
  }

  get samplesDelivered(): number {
    return this.delivered;
  }

  get samplesDropped(): number {
    return this.dropped;
  }

  get state(): "idle" | "running" | "ended" {
    return this.current;
  }

  abstract start(): Promise<void>;
  abstract stop(): Promise<void>;

  /** Marks the source running; false if it already ran (start() is then a no-op). */
  protected beginRunning(): boolean {
    if (this.current !== "idle") return false;
    this.current = "running";
    return true;
  }

  /** Emits one chunk (if running and non-empty) and advances the running sample count. */
  protected deliver(samples: Float32Array, timeMs: number, discontinuity = false): void {
    if (this.current !== "running" || samples.length === 0) return;
    const chunk: AudioChunk = { samples, startSample: this.delivered, timeMs, discontinuity };
    this.delivered += samples.length;
    this.emit("data", chunk);
  }

  /** Logs the error and emits it only if someone listens (an unheard "error" would throw). */
  protected reportError(error: CaptureError): void {
    this.logger?.warn(error.message, { code: error.code, source: error.source, ...error.details });
    if (this.listenerCount("error") > 0) this.emit("error", error);
  }

  /** Emits "end" once; `error` is what an async iterator throws for reason "error". */
  protected finish(reason: EndReason, error?: CaptureError): void {
    if (this.current === "ended") return;
    this.current = "ended";
    this.endError = error;
    this.logger?.info("audio source ended", { kind: this.kind, reason });
    this.emit("end", reason);
  }

  /** True while an async iterator's queue is full. Sources that can wait should honour it. */
  protected get paused(): boolean {
    return this.pausedBy > 0;
  }

  /** Called when `paused` turns true: a source that can wait stops reading. */
  protected onPause(): void {}
  /** Called when `paused` turns false again. */
  protected onResume(): void {}
  /** Whether this source can wait (honours pause); if not, full queues drop their oldest. */
  protected get canPause(): boolean {
    return true;
  }

  [Symbol.asyncIterator](): AsyncIterator<AudioChunk> {
    const queue: AudioChunk[] = [];
    let ended = this.current === "ended";
    let failure: CaptureError | undefined = ended ? this.endError : undefined;
    let holdingPause = false;
    let wake: (() => void) | undefined;
    let droppedHere = false;
    const max = this.maxQueuedChunks;
    const maxSamples = this.maxQueuedSamples;
    let queuedSamples = 0;
    const full = () => queue.length >= max || queuedSamples >= maxSamples;
    // Resume once the queue has drained to half of both limits.
    const halfEmpty = () => queue.length <= max >> 1 && queuedSamples <= maxSamples / 2;

    const release = () => {
      if (!holdingPause) return;
      holdingPause = false;
      this.pausedBy--;
      if (this.pausedBy === 0) this.onResume();
    };
    const onData = (chunk: AudioChunk) => {
      while (queue.length > 0 && full() && !this.canPause) {
        // Drop the oldest; the chunk after it (now the oldest) starts after a gap.
        const lost = queue.shift() as AudioChunk;
        this.dropped += lost.samples.length;
        queuedSamples -= lost.samples.length;
        if (queue.length > 0) queue[0] = { ...queue[0], discontinuity: true };
        else droppedHere = true;
      }
      queue.push(droppedHere ? { ...chunk, discontinuity: true } : chunk);
      queuedSamples += chunk.samples.length;
      droppedHere = false;
      if (full() && this.canPause && !holdingPause) {
        holdingPause = true;
        this.pausedBy++;
        if (this.pausedBy === 1) this.onPause();
      }
      wake?.();
    };
    const onEnd = (reason: EndReason) => {
      ended = true;
      if (reason === "error") failure = this.endError;
      detach();
      wake?.();
    };
    const detach = () => {
      this.off("data", onData);
      this.off("end", onEnd);
      release();
    };
    if (!ended) {
      this.on("data", onData);
      this.on("end", onEnd);
    }
    let started: Promise<void> | undefined;

    return {
      next: async (): Promise<IteratorResult<AudioChunk>> => {
        started ??= this.current === "idle" ? this.start() : Promise.resolve();
        await started;
        for (;;) {
          const chunk = queue.shift();
          if (chunk) {
            queuedSamples -= chunk.samples.length;
            if (holdingPause && halfEmpty()) release();
            return { value: chunk, done: false };
          }
          if (ended) {
            if (failure) {
              const f = failure;
              failure = undefined;
              throw f;
            }
            return { value: undefined, done: true };
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
          });
          wake = undefined;
        }
      },
      return: async (): Promise<IteratorResult<AudioChunk>> => {
        detach();
        queue.length = 0;
        queuedSamples = 0;
        ended = true;
        await this.stop();
        return { value: undefined, done: true };
      },
    };
  }
}

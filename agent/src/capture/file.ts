import { setImmediate as yieldToLoop } from "node:timers/promises";
import { readAudioFile } from "../audio/read.js";
import { BaseAudioSource, type BaseSourceOptions } from "./base.js";
import { CAPTURE_SAMPLE_RATE } from "./types.js";

export interface FileSourceOptions extends BaseSourceOptions {
  /**
   * false (default): play in real time, one chunk every `chunkMs` of wall clock, each delivered
   * when its last sample "has been recorded", as a microphone would. true: as fast as the
   * consumer takes it (the event loop gets a turn between chunks; an async iterator's full
   * queue pauses playback).
   */
  fast?: boolean;
  /** Chunk length in ms (default 20; the last chunk may be shorter). */
  chunkMs?: number;
}

/**
 * A file (WAV, FLAC or MP3, any rate and channel count: readAudioFile mixes to mono and
 * resamples to 16 kHz) played as a stream. start() rejects with the AudioError if the file
 * cannot be read (and the source ends with reason "error"); the end of the file ends the
 * source with reason "eof". timeMs is start()'s wall clock plus the media time of the chunk.
 */
export class FileSource extends BaseAudioSource {
  readonly kind = "file";
  private readonly fast: boolean;
  private readonly chunkSamples: number;
  private timer: NodeJS.Timeout | undefined;
  private resumeWaiter: (() => void) | undefined;

  constructor(
    readonly path: string,
    options: FileSourceOptions = {},
  ) {
    super(options);
    this.fast = options.fast ?? false;
    const chunkMs = options.chunkMs ?? 20;
    if (!(chunkMs > 0)) throw new RangeError(`chunkMs must be positive, got ${chunkMs}`);
    this.chunkSamples = Math.max(1, Math.round((chunkMs * CAPTURE_SAMPLE_RATE) / 1000));
  }

  async start(): Promise<void> {
    if (!this.beginRunning()) return;
    let samples: Float32Array;
    try {
      samples = await this.load();
    } catch (err) {
      this.finish("error");
      throw err;
    }
    if (this.state !== "running") return; // stopped while loading
    this.logger?.info("file source started", {
      path: this.path,
      seconds: samples.length / CAPTURE_SAMPLE_RATE,
      fast: this.fast,
    });
    if (this.fast) void this.playFast(samples);
    else this.playRealTime(samples);
  }

  /**
   * The whole recording, mono at 16 kHz. Subclasses may assemble it otherwise (several files,
   * generated audio); an error rejects start() and ends the source with reason "error".
   */
  protected async load(): Promise<Float32Array> {
    return (await readAudioFile(this.path, { targetRate: CAPTURE_SAMPLE_RATE })).samples;
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    if (this.state === "ended") return;
    this.finish("stopped");
    this.resumeWaiter?.();
  }

  /** Fast playback waits for a full async-iterator queue; real-time playback drops instead. */
  protected override get canPause(): boolean {
    return this.fast;
  }

  protected override onResume(): void {
    this.resumeWaiter?.();
  }

  private chunkAt(samples: Float32Array, k: number): Float32Array {
    return samples.slice(k * this.chunkSamples, (k + 1) * this.chunkSamples);
  }

  private playRealTime(samples: Float32Array): void {
    const n = Math.ceil(samples.length / this.chunkSamples);
    const msPerSample = 1000 / CAPTURE_SAMPLE_RATE;
    const t0 = performance.now();
    const wall0 = Date.now();
    let k = 0;
    const step = () => {
      this.timer = undefined;
      // Deliver every chunk whose end is due (catching up if the timer fired late).
      const elapsed = performance.now() - t0;
      while (this.state === "running" && k < n) {
        const end = Math.min((k + 1) * this.chunkSamples, samples.length);
        if (end * msPerSample > elapsed) break;
        this.deliver(this.chunkAt(samples, k), wall0 + k * this.chunkSamples * msPerSample);
        k++;
      }
      if (this.state !== "running") return;
      if (k >= n) {
        this.finish("eof");
        return;
      }
      const due = Math.min((k + 1) * this.chunkSamples, samples.length) * msPerSample;
      this.timer = setTimeout(step, Math.max(0, due - (performance.now() - t0)));
    };
    step();
  }

  private async playFast(samples: Float32Array): Promise<void> {
    const n = Math.ceil(samples.length / this.chunkSamples);
    const wall0 = Date.now();
    for (let k = 0; k < n; k++) {
      await yieldToLoop();
      while (this.paused && this.state === "running") {
        await new Promise<void>((resolve) => {
          this.resumeWaiter = resolve;
        });
        this.resumeWaiter = undefined;
      }
      if (this.state !== "running") return;
      const timeMs = wall0 + (k * this.chunkSamples * 1000) / CAPTURE_SAMPLE_RATE;
      this.deliver(this.chunkAt(samples, k), timeMs);
    }
    if (this.state === "running") this.finish("eof");
  }
}

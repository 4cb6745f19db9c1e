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
    const pieces = this.pieces();
    let first: IteratorResult<Float32Array>;
    try {
      first = await pieces.next();
    } catch (err) {
      this.finish("error");
      throw err;
    }
    if (this.state !== "running") return; // stopped while loading
    this.logger?.info("file source started", {
      path: this.path,
      seconds: first.done ? 0 : first.value.length / CAPTURE_SAMPLE_RATE,
      fast: this.fast,
    });
    void this.play(first.done ? undefined : first.value, pieces);
  }

  /**
   * The whole recording, mono at 16 kHz. Subclasses may assemble it otherwise (generated audio);
   * an error rejects start() and ends the source with reason "error".
   */
  protected async load(): Promise<Float32Array> {
    return (await readAudioFile(this.path, { targetRate: CAPTURE_SAMPLE_RATE })).samples;
  }

  /**
   * The recording as consecutive pieces, played as one stream; by default the one loaded file.
   * Subclasses that play many files yield them one at a time, so that only the piece playing is
   * held in memory. An error from the first piece rejects start().
   */
  protected async *pieces(): AsyncGenerator<Float32Array> {
    yield await this.load();
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

  /**
   * Delivers the pieces in chunks: in real time, each chunk when its last sample "has been
   * recorded" (catching up if a timer fired late), or as fast as the consumer takes them.
   */
  private async play(
    first: Float32Array | undefined,
    rest: AsyncGenerator<Float32Array>,
  ): Promise<void> {
    const t0 = performance.now();
    const wall0 = Date.now();
    const msPerSample = 1000 / CAPTURE_SAMPLE_RATE;
    let piece = first;
    let offset = 0;
    let position = 0;
    while (this.state === "running") {
      if (!piece || offset >= piece.length) {
        let next: IteratorResult<Float32Array>;
        try {
          next = await rest.next();
        } catch (err) {
          this.logger?.error("file source failed", { path: this.path, error: err });
          if (this.state === "running") this.finish("error");
          return;
        }
        if (next.done) break;
        piece = next.value;
        offset = 0;
        continue;
      }
      // A view: pieces are never written to, and every consumer copies what it keeps.
      const chunk = piece.subarray(offset, offset + this.chunkSamples);
      offset += chunk.length;
      const startMs = position * msPerSample;
      position += chunk.length;
      if (this.fast) {
        await yieldToLoop();
        while (this.paused && this.state === "running") {
          await new Promise<void>((resolve) => {
            this.resumeWaiter = resolve;
          });
          this.resumeWaiter = undefined;
        }
      } else {
        const wait = position * msPerSample - (performance.now() - t0);
        if (wait > 0) {
          await new Promise<void>((resolve) => {
            this.resumeWaiter = resolve;
            this.timer = setTimeout(resolve, wait);
          });
          this.timer = undefined;
          this.resumeWaiter = undefined;
        }
      }
      if (this.state !== "running") return;
      this.deliver(chunk, wall0 + startMs);
    }
    if (this.state === "running") this.finish("eof");
  }
}

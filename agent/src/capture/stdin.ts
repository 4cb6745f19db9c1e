import type { Readable } from "node:stream";
import { BaseAudioSource, type BaseSourceOptions } from "./base.js";
import { S16leDecoder } from "./pcm.js";
import { CAPTURE_SAMPLE_RATE, CaptureError } from "./types.js";

export interface StdinSourceOptions extends BaseSourceOptions {
  /** Name used in messages. Default "stdin". */
  name?: string;
}

/**
 * Raw PCM, signed 16-bit little-endian, 16 kHz mono, read from a byte stream (`--input -`:
 * process.stdin), e.g. `arecord -t raw -f S16_LE -r 16000 -c 1 | ser-agent ... --input -`.
 * No header is parsed: a WAV header would be read as ~22 ms of noise.
 *
 * Chunks are whatever the stream delivers (a pipe gives up to 64 KiB, ~2 s). timeMs is the wall
 * clock of the first byte plus the media time, so it is right for a real-time producer. The end
 * of the stream ends the source ("eof"); a stream error is reported (STREAM_FAILED) and ends it
 * ("error"). stop() detaches from the stream and pauses it; it does not destroy it.
 */
export class StdinSource extends BaseAudioSource {
  readonly kind = "stdin";
  private readonly name: string;
  private readonly decoder = new S16leDecoder();
  private wall0 = -1;

  constructor(
    private readonly stream: Readable = process.stdin,
    options: StdinSourceOptions = {},
  ) {
    super(options);
    this.name = options.name ?? "stdin";
  }

  private readonly onData = (data: Buffer | string) => {
    const bytes = typeof data === "string" ? Buffer.from(data, "latin1") : data;
    if (this.wall0 < 0) this.wall0 = Date.now();
    const samples = this.decoder.push(bytes);
    this.deliver(samples, this.wall0 + (this.samplesDelivered * 1000) / CAPTURE_SAMPLE_RATE);
  };

  private readonly onEnd = () => {
    this.detach();
    if (this.decoder.pendingBytes > 0) {
      this.reportError(
        new CaptureError(
          "TRUNCATED_SAMPLE",
          this.name,
          "stream ended in the middle of a 16-bit sample (odd byte count); the last byte was " +
            "dropped. Is the input really raw S16_LE mono?",
        ),
      );
    }
    this.finish("eof");
  };

  private readonly onError = (err: Error) => {
    this.detach();
    if (this.state === "ended") {
      this.logger?.warn(`${this.name}: input stream failed after the source ended`, {
        error: err.message,
      });
      return;
    }
    const error = new CaptureError(
      "STREAM_FAILED",
      this.name,
      `input stream failed (${err.message}); check the producing command`,
      {},
      { cause: err },
    );
    this.reportError(error);
    this.finish("error", error);
  };

  async start(): Promise<void> {
    if (!this.beginRunning()) return;
    this.stream.on("data", this.onData);
    this.stream.once("end", this.onEnd);
    this.stream.on("error", this.onError);
    if (this.stream.readableEnded) {
      this.onEnd();
      return;
    }
    this.stream.resume();
  }

  async stop(): Promise<void> {
    if (this.state === "ended") return;
    this.detach();
    this.stream.pause();
    this.finish("stopped");
  }

  protected override onPause(): void {
    this.stream.pause();
  }

  protected override onResume(): void {
    if (this.state === "running") this.stream.resume();
  }

  /** Stops listening for audio; the error listener stays so a late error cannot crash us. */
  private detach(): void {
    this.stream.off("data", this.onData);
    this.stream.off("end", this.onEnd);
  }
}

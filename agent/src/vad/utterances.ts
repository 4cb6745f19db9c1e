import type { VoiceActivityDetector } from "./detector.js";
import { Segmenter, type SegmenterOptions, type Utterance } from "./segmenter.js";

/**
 * Audio chunks in, utterances out: a VoiceActivityDetector feeding a Segmenter. Chunks must be
 * contiguous except where `discontinuity` is set (as AudioSource chunks are): there the open
 * utterance is ended ("flush") and both stages start afresh.
 */
export class UtteranceDetector {
  readonly segmenter: Segmenter;

  constructor(
    readonly vad: VoiceActivityDetector,
    segmenter: Segmenter | Partial<SegmenterOptions> = {},
  ) {
    this.segmenter =
      segmenter instanceof Segmenter
        ? segmenter
        : new Segmenter({
            frameSamples: vad.frameSamples,
            sampleRate: vad.sampleRate,
            ...segmenter,
          });
    if (this.segmenter.resolved.frameSamples !== vad.frameSamples) {
      throw new RangeError("the segmenter and the VAD must use the same frame length");
    }
  }

  /** Adds a chunk; returns the utterances it completed. Await each call before the next. */
  async push(chunk: { samples: Float32Array; discontinuity?: boolean }): Promise<Utterance[]> {
    const out: Utterance[] = [];
    if (chunk.discontinuity) {
      await this.drain(out);
      this.vad.reset();
    }
    for (const frame of await this.vad.push(chunk.samples)) this.segmenter.pushInto(frame, out);
    return out;
  }

  /** End of stream: decides the last frames and ends the open utterance. */
  async flush(): Promise<Utterance[]> {
    const out: Utterance[] = [];
    await this.drain(out);
    return out;
  }

  private async drain(out: Utterance[]): Promise<void> {
    for (const frame of await this.vad.flush()) this.segmenter.pushInto(frame, out);
    out.push(...this.segmenter.flush());
  }
}

import { CAPTURE_SAMPLE_RATE } from "../capture/index.js";

interface Anchor {
  /** Index in the stream the detector sees. */
  sample: number;
  /** Wall clock (epoch ms) of that sample. */
  timeMs: number;
}

/**
 * Wall-clock times of the samples the voice-activity detector has seen, from the chunks' own
 * clock (AudioChunk.timeMs). Within a run of contiguous audio the clock advances with the samples
 * (16 kHz); a new anchor is kept only where the source's clock jumps (a microphone restart, or
 * audio dropped before the detector), so memory stays small. Anchors older than `keepSamples`
 * behind the newest sample are forgotten (all but the last of them).
 */
export class SampleClock {
  private anchors: Anchor[] = [];
  private next = 0;

  /** `keepSamples`: how far back times may still be asked for (the longest utterance and more). */
  constructor(
    private readonly keepSamples: number,
    private readonly rate: number = CAPTURE_SAMPLE_RATE,
    /** A jump of more than this (ms) between the running clock and a chunk's starts an anchor. */
    private readonly toleranceMs = 2,
  ) {}

  /** Samples noted so far: the index the next chunk starts at. */
  get position(): number {
    return this.next;
  }

  /** Records a chunk of `length` samples whose first sample was at `timeMs`. */
  note(timeMs: number, length: number): void {
    const last = this.anchors.at(-1);
    if (!last || Math.abs(this.timeOf(this.next) - timeMs) > this.toleranceMs) {
      this.anchors.push({ sample: this.next, timeMs });
    }
    this.next += length;
    // Forget anchors no time can be asked for any more, keeping the one that covers the cutoff.
    const cutoff = this.next - this.keepSamples;
    let drop = 0;
    while (drop + 1 < this.anchors.length && this.anchors[drop + 1].sample <= cutoff) drop++;
    if (drop > 0) this.anchors.splice(0, drop);
  }

  /** Epoch ms of stream sample `sample` (extrapolated from the nearest anchor before it). */
  timeOf(sample: number): number {
    let a = this.anchors[0];
    if (!a) return Number.NaN;
    for (let i = this.anchors.length - 1; i >= 0; i--) {
      if (this.anchors[i].sample <= sample) {
        a = this.anchors[i];
        break;
      }
    }
    return a.timeMs + ((sample - a.sample) * 1000) / this.rate;
  }
}

/**
 * Utterances from per-frame speech decisions: a pure state machine (no clock, no I/O) with
 * bounded memory (one pre-roll ring and one maximum-length buffer, allocated once).
 *
 * - An utterance starts at the first speech frame, `preRollMs` earlier (but never before the
 *   end of the previous utterance, the stream start or the last flush/gap).
 * - It ends when `hangoverMs` of non-speech has followed its last speech frame; it then ends
 *   exactly hangover after that frame (the hangover audio is included, the frame after is not).
 * - It is dropped if its speech (first speech frame start to last speech frame end, pauses
 *   shorter than the hangover included) is shorter than `minSpeechMs`.
 * - Speech longer than `maxUtteranceMs` is cut into windows of exactly that length, each
 *   starting `maxUtteranceMs - windowOverlapMs` after the previous one, emitted as soon as they
 *   are full, with `window.index` 0, 1, ...; the last window (whatever is left, always at least
 *   one frame beyond the previous window) also carries `window.of`, the count.
 *
 * All durations are rounded to whole frames (10 ms by default), so with multiples of the
 * frame length everything is exact to the sample.
 */
export interface SegmenterOptions {
  sampleRate: number;
  /** Samples per decision frame. Default 160 (10 ms at 16 kHz). */
  frameSamples: number;
  /** Audio kept before the first speech frame. Default 300 ms. */
  preRollMs: number;
  /** Non-speech after the last speech frame that ends an utterance. Default 400 ms. */
  hangoverMs: number;
  /** Shorter speech is dropped. Default 250 ms. */
  minSpeechMs: number;
  /** Longer utterances are cut into windows of this length. Default 8,000 ms. */
  maxUtteranceMs: number;
  /** Audio shared by consecutive windows. Default 1,000 ms. */
  windowOverlapMs: number;
}

export const DEFAULT_SEGMENTER_OPTIONS: SegmenterOptions = {
  sampleRate: 16000,
  frameSamples: 160,
  preRollMs: 300,
  hangoverMs: 400,
  minSpeechMs: 250,
  maxUtteranceMs: 8000,
  windowOverlapMs: 1000,
};

export type UtteranceEnd = "silence" | "max-length" | "flush";

export interface Utterance {
  /** Stream index of samples[0]. */
  startSample: number;
  /** Stream index just past the last sample. */
  endSample: number;
  samples: Float32Array;
  /** Sample span of the speech frames in it (first speech frame start, last speech frame end). */
  speechStartSample: number;
  speechEndSample: number;
  /** "silence": hangover reached; "max-length": a full window of a long utterance; "flush". */
  end: UtteranceEnd;
  /** Present when a long utterance was cut: this window's index, and the count on the last. */
  window?: { index: number; of?: number };
}

/** The options in samples, as the segmenter applies them. */
export interface ResolvedSegmenterOptions {
  frameSamples: number;
  preRoll: number;
  hangover: number;
  minSpeech: number;
  maxUtterance: number;
  overlap: number;
}

/** One decided frame: where it starts in the stream, its audio, and whether it is speech. */
export interface SegmenterFrame {
  startSample: number;
  samples: Float32Array;
  speech: boolean;
}

export class Segmenter {
  readonly options: SegmenterOptions;
  readonly resolved: ResolvedSegmenterOptions;
  private readonly ring: Float32Array;
  private ringWrite = 0;
  private ringFilled = 0;
  private readonly buf: Float32Array;
  private bufLen = 0;
  /** Stream index of the next frame expected (-1: none yet). */
  private position = -1;
  /** Pre-roll may not reach before this. */
  private minStart = 0;
  private active = false;
  /** Stream index of buf[0]. */
  private bufStart = 0;
  private firstSpeech = 0;
  private lastSpeechEnd = 0;
  private silence = 0;
  private windowIndex = 0;

  constructor(options: Partial<SegmenterOptions> = {}) {
    this.options = { ...DEFAULT_SEGMENTER_OPTIONS, ...options };
    const o = this.options;
    const F = o.frameSamples;
    if (!(F > 0) || !(o.sampleRate > 0)) throw new RangeError("bad frame size or sample rate");
    const frameMs = (F * 1000) / o.sampleRate;
    const frames = (name: keyof SegmenterOptions): number => {
      const v = o[name];
      if (!(v >= 0)) throw new RangeError(`${name} must be >= 0, got ${v}`);
      return Math.round(v / frameMs) * F;
    };
    this.resolved = {
      frameSamples: F,
      preRoll: frames("preRollMs"),
      hangover: frames("hangoverMs"),
      minSpeech: frames("minSpeechMs"),
      maxUtterance: frames("maxUtteranceMs"),
      overlap: frames("windowOverlapMs"),
    };
    const r = this.resolved;
    if (r.overlap >= r.maxUtterance) {
      throw new RangeError("windowOverlapMs must be shorter than maxUtteranceMs");
    }
    // An utterance that reaches the maximum then always holds at least minSpeech of speech.
    if (r.maxUtterance < r.preRoll + r.hangover + Math.max(r.minSpeech, F)) {
      throw new RangeError(
        "maxUtteranceMs must be at least preRollMs + hangoverMs + minSpeechMs (+1 frame)",
      );
    }
    this.ring = new Float32Array(r.preRoll);
    this.buf = new Float32Array(r.maxUtterance);
  }

  /** True while an utterance is open. */
  get inUtterance(): boolean {
    return this.active;
  }

  /**
   * Takes the next frame; returns the utterances (or windows) it completed. A frame that does
   * not follow the previous one (a gap in the stream) flushes first.
   */
  push(frame: SegmenterFrame): Utterance[] {
    const out: Utterance[] = [];
    this.pushInto(frame, out);
    return out;
  }

  /** push(), appending the completed utterances to `out` (no array per frame). */
  pushInto(frame: SegmenterFrame, out: Utterance[]): void {
    const F = this.resolved.frameSamples;
    if (frame.samples.length !== F) {
      throw new RangeError(`frames must be ${F} samples, got ${frame.samples.length}`);
    }
    if (this.position >= 0 && frame.startSample !== this.position) {
      this.flushInto(out);
      this.minStart = frame.startSample;
      this.ringFilled = 0;
    } else if (this.position < 0) {
      this.minStart = frame.startSample;
    }
    const start = frame.startSample;
    this.position = start + F;

    if (!this.active && frame.speech) this.open(start);
    if (this.active) this.step(frame, out);
    this.remember(frame.samples);
  }

  /** Ends the open utterance at the last frame pushed (end of stream, or before a gap). */
  flush(): Utterance[] {
    const out: Utterance[] = [];
    this.flushInto(out);
    if (this.position >= 0) this.minStart = this.position;
    this.ringFilled = 0;
    return out;
  }

  /** Forgets everything (the next frame may start anywhere). */
  reset(): void {
    this.active = false;
    this.bufLen = 0;
    this.ringFilled = 0;
    this.position = -1;
    this.minStart = 0;
  }

  private flushInto(out: Utterance[]): void {
    if (!this.active) return;
    this.close(this.position, "flush", out);
  }

  private open(frameStart: number): void {
    const { preRoll } = this.resolved;
    const start = Math.max(frameStart - preRoll, this.minStart, frameStart - this.ringFilled);
    const n = frameStart - start;
    // Copy the last n samples of the ring.
    const size = this.ring.length;
    for (let i = 0; i < n; i++) {
      this.buf[i] = this.ring[(this.ringWrite - n + i + size) % size];
    }
    this.bufLen = n;
    this.bufStart = start;
    this.active = true;
    this.firstSpeech = frameStart;
    this.lastSpeechEnd = frameStart;
    this.silence = 0;
    this.windowIndex = 0;
  }

  private step(frame: SegmenterFrame, out: Utterance[]): void {
    const { hangover, maxUtterance, overlap } = this.resolved;
    const F = this.resolved.frameSamples;
    const end = frame.startSample + F;
    if (frame.speech) {
      this.append(frame.samples);
      this.lastSpeechEnd = end;
      this.silence = 0;
    } else {
      this.silence += F;
      if (this.silence <= hangover) this.append(frame.samples);
      if (this.silence >= hangover) {
        this.close(this.lastSpeechEnd + hangover, "silence", out);
        return;
      }
    }
    if (this.bufLen === maxUtterance) {
      out.push(this.utterance(maxUtterance, "max-length", { index: this.windowIndex }));
      this.windowIndex++;
      const step = maxUtterance - overlap;
      this.buf.copyWithin(0, step, maxUtterance);
      this.bufLen = overlap;
      this.bufStart += step;
    }
  }

  private close(endSample: number, why: UtteranceEnd, out: Utterance[]): void {
    this.active = false;
    const length = endSample - this.bufStart;
    const windowed = this.windowIndex > 0;
    const speech = this.lastSpeechEnd - this.firstSpeech;
    if (windowed) {
      const index = this.windowIndex;
      out.push(this.utterance(length, why, { index, of: index + 1 }));
    } else if (speech >= this.resolved.minSpeech) {
      out.push(this.utterance(length, why));
    }
    this.minStart = endSample;
    this.bufLen = 0;
  }

  private utterance(
    length: number,
    end: UtteranceEnd,
    window?: { index: number; of?: number },
  ): Utterance {
    const startSample = this.bufStart;
    const endSample = startSample + length;
    const u: Utterance = {
      startSample,
      endSample,
      samples: this.buf.slice(0, length),
      speechStartSample: Math.max(this.firstSpeech, startSample),
      speechEndSample: Math.min(this.lastSpeechEnd, endSample),
      end,
    };
    if (window) u.window = window;
    return u;
  }

  private append(samples: Float32Array): void {
    this.buf.set(samples, this.bufLen);
    this.bufLen += samples.length;
  }

  private remember(samples: Float32Array): void {
    const size = this.ring.length;
    if (size === 0) return;
    // The last `size` samples at most, written in up to two pieces around the ring's end.
    const x = samples.length > size ? samples.subarray(samples.length - size) : samples;
    const first = Math.min(x.length, size - this.ringWrite);
    this.ring.set(x.subarray(0, first), this.ringWrite);
    if (first < x.length) this.ring.set(x.subarray(first), 0);
    this.ringWrite = (this.ringWrite + x.length) % size;
    this.ringFilled = Math.min(size, this.ringFilled + samples.length);
  }
}

import { FrameKernel, KERNEL_BATCH } from "./kernel.js";
import { type FeatureParams, resolveFeatureParams } from "./params.js";

/**
 * Features of one utterance, frame-major (frame t's values at [t * n, (t + 1) * n)), float32.
 * librosa's layout is the transpose; see toRows().
 */
export interface UtteranceFeatures {
  params: FeatureParams;
  /** Samples the utterance had (at params.sampleRate). */
  samples: number;
  frames: number;
  /** Mel power spectrogram, frames x nMels. */
  melPower: Float32Array;
  /** power_to_db of melPower with the per-utterance top_db clip, frames x nMels. */
  melDb: Float32Array;
  /** frames x nMfcc. */
  mfcc: Float32Array;
}

/**
 * Streaming feature extractor: push PCM chunks of any size as they arrive, get the utterance's
 * features at finish(). Frames are computed as soon as their window is complete, so finish() only
 * pays for the last few frames and the clip.
 *
 * The one rule that is not causal is librosa's dB clip at (max over the utterance - top_db):
 * mel dB frames are computed unclipped while streaming, and finish() applies the clip and then
 * computes the MFCCs (a DCT per frame, ~0.2 us each). So the output equals the offline
 * computation on the same samples exactly, whatever the chunking; the offline form
 * (extractFeatures) is this class fed once. An utterance is whatever lies between two finish() calls: the agent's voice-activity gate
 * decides it.
 */
export class FeatureExtractor {
  readonly params: FeatureParams;
  private readonly kernel: FrameKernel;
  /** Absolute sample index (0 = first sample of the utterance) of kernel.input[0]. */
  private bufStart = 0;
  private bufLen = 0;
  private received = 0;
  private nextFrame = 0;
  /** Window-span start of frame t relative to sample t*hop (negative: centre padding). */
  private readonly spanOffset: number;

  constructor(params: Partial<FeatureParams> = {}) {
    this.params = resolveFeatureParams(params);
    this.kernel = new FrameKernel(this.params);
    const { nFft, winLength } = this.params;
    this.spanOffset = Math.floor((nFft - winLength) / 2) - nFft / 2;
    this.reset();
  }

  /** Frames computed so far in the current utterance. */
  get frameCount(): number {
    return this.nextFrame;
  }

  /** Samples received so far in the current utterance. */
  get sampleCount(): number {
    return this.received;
  }

  /** Forgets the current utterance. */
  reset(): void {
    this.received = 0;
    this.nextFrame = 0;
    // Centre padding: the samples before the utterance are zeros.
    this.bufStart = this.spanOffset;
    this.bufLen = -this.spanOffset;
    this.kernel.input.fill(0, 0, this.bufLen);
  }

  /** Appends samples (mono, at params.sampleRate) and computes every frame they complete. */
  push(chunk: ArrayLike<number>): void {
    this.append(chunk, chunk.length);
    this.received += chunk.length;
  }

  /** Completes the utterance (zeros after its end, as librosa pads) and resets for the next. */
  finish(): UtteranceFeatures {
    const { hopLength, winLength, sampleRate } = this.params;
    const total = 1 + Math.floor(this.received / hopLength);
    const needed = (total - 1) * hopLength + this.spanOffset + winLength;
    const zeros = needed - (this.bufStart + this.bufLen);
    if (zeros > 0) this.append(new Float32Array(zeros), zeros, total);
    this.compute(total);
    const frames = this.nextFrame;
    const samples = this.received;
    const result = this.kernel.finish(frames, this.params.topDb);
    if (!result) {
      let t = 0;
      while (t < frames && this.kernel.frameRange(t)[1] < Number.POSITIVE_INFINITY) t++;
      this.reset();
      throw new RangeError(
        `audio is not finite (NaN or Inf samples) near ${((t * hopLength) / sampleRate).toFixed(3)} s; check the source`,
      );
    }
    this.reset();
    return { params: this.params, samples, frames, ...result };
  }

  /** Copies samples into the kernel's input area, computing frames whenever it fills. */
  private append(chunk: ArrayLike<number>, length: number, limit = Number.POSITIVE_INFINITY): void {
    let pos = 0;
    while (pos < length) {
      // Shifting the buffer is a copy: do it only when it is full, not per chunk. Every frame
      // that could be computed has been, so what is kept is less than a window plus a hop.
      if (this.bufLen === this.kernel.inputCapacity) this.compact();
      const input = this.kernel.input;
      const n = Math.min(input.length - this.bufLen, length - pos);
      if (chunk instanceof Float32Array) {
        input.set(chunk.subarray(pos, pos + n), this.bufLen);
      } else {
        for (let i = 0; i < n; i++) input[this.bufLen + i] = chunk[pos + i];
      }
      this.bufLen += n;
      pos += n;
      this.compute(limit);
    }
  }

  /** Runs the kernel over every frame whose window span is in the buffer (and below `limit`). */
  private compute(limit: number): void {
    const { hopLength, winLength } = this.params;
    const end = this.bufStart + this.bufLen;
    // Frames t with t*hop + spanOffset + winLength <= end.
    const last = Math.min(limit - 1, Math.floor((end - winLength - this.spanOffset) / hopLength));
    const k = this.kernel;
    while (this.nextFrame <= last) {
      const count = Math.min(KERNEL_BATCH, last - this.nextFrame + 1);
      const start = this.nextFrame * hopLength + this.spanOffset - this.bufStart;
      k.ensureFrames(this.nextFrame + count);
      k.run(start, count, this.nextFrame);
      this.nextFrame += count;
    }
  }

  /** Drops samples no future frame needs. */
  private compact(): void {
    const keepFrom = this.nextFrame * this.params.hopLength + this.spanOffset;
    const drop = Math.min(this.bufLen, keepFrom - this.bufStart);
    if (drop <= 0) return;
    this.kernel.input.copyWithin(0, drop, this.bufLen);
    this.bufStart += drop;
    this.bufLen -= drop;
  }
}

/** Offline form: the features of a whole utterance. */
export function extractFeatures(
  samples: ArrayLike<number>,
  params: Partial<FeatureParams> | FeatureExtractor = {},
): UtteranceFeatures {
  const ex = params instanceof FeatureExtractor ? params : new FeatureExtractor(params);
  ex.reset();
  ex.push(samples);
  return ex.finish();
}

/** Frame-major matrix -> librosa layout: one array per coefficient, frames along it. */
export function toRows(data: Float32Array, width: number): number[][] {
  const frames = data.length / width;
  const rows: number[][] = [];
  for (let c = 0; c < width; c++) {
    const row = new Array<number>(frames);
    for (let t = 0; t < frames; t++) row[t] = data[t * width + c];
    rows.push(row);
  }
  return rows;
}

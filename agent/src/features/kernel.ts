import { agentWasm } from "../wasm-modules.js";
import { dctOrthoMatrix } from "./dct.js";
import { fftTables } from "./fft-tables.js";
import { melFilterbank, sparsify } from "./mel.js";
import type { FeatureParams } from "./params.js";
import { periodicWindow } from "./window.js";

/** Exports of agent/assembly/frames.ts (see there for what each does). */
interface FramesExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  configure(
    nFft: number,
    winLength: number,
    nMels: number,
    nMfcc: number,
    nStages: number,
    amin: number,
    refDb: number,
  ): void;
  setTables(...pointers: number[]): void;
  setScratch(...pointers: number[]): void;
  frames(
    src: number,
    hop: number,
    count: number,
    outPow: number,
    outDb: number,
    outRange: number,
  ): void;
  finishUtterance(
    db: number,
    range: number,
    mfcc: number,
    count: number,
    topDb: number,
    clip: number,
  ): number;
}

/**
 * The kernel (agent/assembly/frames.ts): compiled once per thread, instantiated per extractor
 * (and once for the pitch tracker).
 */
export function frameModule(): WebAssembly.Module {
  return agentWasm("frames", "feature kernel");
}

/** Frames computed per kernel call. */
export const KERNEL_BATCH = 64;

const PAGE = 65536;

/** One finished utterance, frame-major float32 matrices (see UtteranceFeatures). */
export interface KernelResult {
  melPower: Float32Array;
  melDb: Float32Array;
  mfcc: Float32Array;
}

/**
 * One WebAssembly instance configured for one parameter set: tables written once, then frames
 * computed from samples placed in its input area into an utterance store that lives in the same
 * memory (so nothing is copied per frame, and the MFCCs can be computed in one pass once the
 * utterance's dB clip is known). Each instance owns its memory, so extractors with different
 * parameters coexist. The store grows by doubling and is reused from utterance to utterance.
 */
export class FrameKernel {
  readonly params: FeatureParams;
  /** Samples the input area holds. */
  readonly inputCapacity: number;
  private readonly ex: FramesExports;
  private readonly inputPtr: number;
  /** Start of the utterance store: mel power, dB, per-frame dB range, MFCC regions, in order. */
  private readonly storeBase: number;
  private capacity = 0;
  private powPtr = 0;
  private dbPtr = 0;
  private rangePtr = 0;
  private mfccPtr = 0;
  private inputView: Float32Array;

  constructor(params: FeatureParams) {
    this.params = params;
    const { nFft, winLength, nMels, nMfcc, hopLength } = params;
    const instance = new WebAssembly.Instance(frameModule(), {});
    const ex = instance.exports as unknown as FramesExports;
    this.ex = ex;

    const window = periodicWindow(params.window, winLength);
    const fft = fftTables(nFft);
    const mel = sparsify(melFilterbank(params), 2);
    const full = dctOrthoMatrix(nMfcc, nMels);
    const h = nMels / 2;
    const dct = new Float64Array(nMfcc * h);
    for (let k = 0; k < nMfcc; k++) dct.set(full.subarray(k * nMels, k * nMels + h), k * h);
    this.inputCapacity = Math.max(8192, 4 * nFft, (KERNEL_BATCH - 1) * hopLength + winLength);

    // Bump allocator over linear memory past the module's own data, 16-byte aligned for SIMD.
    let top = ex.heapBase();
    const alloc = (bytes: number) => {
      top = Math.ceil(top / 16) * 16;
      const p = top;
      top += bytes;
      return p;
    };
    const half = fft.half;
    const layout = {
      window: alloc(8 * winLength),
      perm: alloc(4 * half),
      radix: alloc(4 * fft.radices.length),
      tw: alloc(8 * fft.twiddles.length),
      unCos: alloc(8 * (half + 1)),
      unSin: alloc(8 * (half + 1)),
      melStart: alloc(4 * nMels),
      melLen: alloc(4 * nMels),
      melOff: alloc(4 * nMels),
      melW: alloc(8 * Math.max(1, mel.weights.length)),
      dct: alloc(8 * dct.length),
      frame: alloc(8 * nFft),
      re: alloc(8 * half),
      im: alloc(8 * half),
      pow: alloc(8 * (half + 2)), // one zero bin past the end for padded mel runs
      db: alloc(8 * nMels),
      sum: alloc(8 * h),
      diff: alloc(8 * h),
      input: alloc(4 * this.inputCapacity),
    };
    this.storeBase = Math.ceil(top / 16) * 16;
    this.growMemory(this.storeBase);
    const buf = ex.memory.buffer;
    new Float64Array(buf, layout.window, winLength).set(window);
    new Int32Array(buf, layout.perm, half).set(fft.perm);
    new Int32Array(buf, layout.radix, fft.radices.length).set(fft.radices);
    new Float64Array(buf, layout.tw, fft.twiddles.length).set(fft.twiddles);
    new Float64Array(buf, layout.unCos, half + 1).set(fft.unpackCos);
    new Float64Array(buf, layout.unSin, half + 1).set(fft.unpackSin);
    new Int32Array(buf, layout.melStart, nMels).set(mel.start);
    new Int32Array(buf, layout.melLen, nMels).set(mel.length);
    new Int32Array(buf, layout.melOff, nMels).set(mel.offset);
    new Float64Array(buf, layout.melW, mel.weights.length).set(mel.weights);
    new Float64Array(buf, layout.dct, dct.length).set(dct);

    ex.configure(
      nFft,
      winLength,
      nMels,
      nMfcc,
      fft.radices.length,
      params.amin,
      10 * Math.log10(Math.max(params.amin, params.refPower)),
    );
    ex.setTables(
      layout.window,
      layout.perm,
      layout.radix,
      layout.tw,
      layout.unCos,
      layout.unSin,
      layout.melStart,
      layout.melLen,
      layout.melOff,
      layout.melW,
      layout.dct,
    );
    ex.setScratch(
      layout.frame,
      layout.re,
      layout.im,
      layout.pow,
      layout.db,
      layout.sum,
      layout.diff,
    );
    this.inputPtr = layout.input;
    this.inputView = new Float32Array(buf, layout.input, this.inputCapacity);
    this.ensureFrames(512);
  }

  /**
   * Input area (float32 samples); frame t of a run reads [start + t*hop, start + t*hop + win).
   * Re-read it after anything that may grow the store: growing memory detaches old views.
   */
  get input(): Float32Array {
    if (this.inputView.buffer !== this.ex.memory.buffer) {
      this.inputView = new Float32Array(this.ex.memory.buffer, this.inputPtr, this.inputCapacity);
    }
    return this.inputView;
  }

  /** Frames the utterance store holds before it has to grow. */
  get frameCapacity(): number {
    return this.capacity;
  }

  /** Makes room for `frames` frames, keeping the ones stored (regions move up, last first). */
  ensureFrames(frames: number): void {
    if (frames <= this.capacity) return;
    const { nMels, nMfcc } = this.params;
    const cap = Math.max(frames, 2 * this.capacity);
    const pow = this.storeBase;
    const db = pow + 4 * cap * nMels;
    const range = db + 4 * cap * nMels;
    const mfcc = range + 8 * cap;
    this.growMemory(mfcc + 4 * cap * nMfcc);
    const bytes = new Uint8Array(this.ex.memory.buffer);
    const used = this.capacity;
    // New offsets are >= old ones, so moving the last region first never overwrites live data.
    bytes.copyWithin(mfcc, this.mfccPtr, this.mfccPtr + 4 * used * nMfcc);
    bytes.copyWithin(range, this.rangePtr, this.rangePtr + 8 * used);
    bytes.copyWithin(db, this.dbPtr, this.dbPtr + 4 * used * nMels);
    this.capacity = cap;
    this.powPtr = pow;
    this.dbPtr = db;
    this.rangePtr = range;
    this.mfccPtr = mfcc;
  }

  private growMemory(end: number): void {
    const have = this.ex.memory.buffer.byteLength;
    if (end > have) this.ex.memory.grow(Math.ceil((end - have) / PAGE));
  }

  /**
   * Computes `count` (<= KERNEL_BATCH) frames whose window spans start at input[start + t*hop]
   * into store frames [frame, frame + count); call ensureFrames first.
   */
  run(start: number, count: number, frame: number): void {
    const { hopLength, winLength, nMels } = this.params;
    if (count < 0 || count > KERNEL_BATCH) throw new RangeError(`bad frame count ${count}`);
    if (start < 0 || start + (count - 1) * hopLength + winLength > this.inputCapacity) {
      throw new RangeError(`frames ${start}+${count} overrun the kernel's input area`);
    }
    if (frame + count > this.capacity) throw new RangeError("utterance store too small");
    this.ex.frames(
      this.inputPtr + 4 * start,
      hopLength,
      count,
      this.powPtr + 4 * frame * nMels,
      this.dbPtr + 4 * frame * nMels,
      this.rangePtr + 8 * frame,
    );
  }

  /**
   * Completes an utterance of `frames` frames: top_db clip (if not null) and MFCCs, then copies
   * the matrices out. Returns null if the input held NaN or Inf samples.
   */
  finish(frames: number, topDb: number | null): KernelResult | null {
    const { nMels, nMfcc } = this.params;
    const max = this.ex.finishUtterance(
      this.dbPtr,
      this.rangePtr,
      this.mfccPtr,
      frames,
      topDb ?? 0,
      topDb === null ? 0 : 1,
    );
    if (Number.isNaN(max)) return null;
    const buf = this.ex.memory.buffer;
    return {
      melPower: new Float32Array(buf, this.powPtr, frames * nMels).slice(),
      melDb: new Float32Array(buf, this.dbPtr, frames * nMels).slice(),
      mfcc: new Float32Array(buf, this.mfccPtr, frames * nMfcc).slice(),
    };
  }

  /** Per-frame [min, max] of unclipped dB, for locating bad input. */
  frameRange(frame: number): [number, number] {
    const v = new Float32Array(this.ex.memory.buffer, this.rangePtr + 8 * frame, 2);
    return [v[0], v[1]];
  }
}

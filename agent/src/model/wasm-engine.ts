import {
  type OnnxGraph,
  type OnnxNode,
  type OnnxTensor,
  OnnxType,
  parseOnnx,
} from "../onnx/graph.js";
import { agentWasm } from "../wasm-modules.js";

/**
 * The agent's own engine for the trainer's models: an interpreter of the ONNX graph whose
 * kernels are the agent's WebAssembly (agent/assembly/model.ts). Each quantized convolution or
 * dense layer (DequantizeLinear of uint8 activations and of int8 weights into Conv or Gemm,
 * then optionally Relu and QuantizeLinear) is one integer kernel call; the few other operators
 * (pooling, attention, statistics, softmax) are float kernels. Every tensor of a call lives in
 * the module's memory (an arena reset per call), so a call allocates nothing in JavaScript.
 *
 * Why: ONNX Runtime's library and its first session cost the agent 38 MiB of its ~100 MiB
 * (BENCHMARKS.md, memory floor). This engine needs the model's weights and a few hundred KiB.
 * Results equal ONNX Runtime's to float rounding (its QLinearConv is the same integer
 * arithmetic; tested on the shipped model and on test bundles). A graph with anything else (an
 * LSTM, int8 activations, a subgraph) is refused at load with UnsupportedModelError, and the
 * runner uses ONNX Runtime for it.
 */

export class UnsupportedModelError extends Error {
  constructor(reason: string) {
    super(`the agent's model engine cannot run this graph: ${reason}`);
    this.name = "UnsupportedModelError";
  }
}

/** A tensor in the module's memory. */
interface Buf {
  dims: number[];
  ptr: number;
}

/**
 * uint8 activations; `timeMajor`: a [1, C, T] tensor stored [T][C], as the integer kernel writes
 * its outputs (and reads them fastest).
 */
interface U8 extends Buf {
  timeMajor: boolean;
}

/** Float32, raw uint8 activations, or a uint8 tensor's dequantization (made when needed). */
type Value =
  | ({ kind: "f" } & Buf)
  | ({ kind: "u8" } & U8)
  | { kind: "dq"; src: U8; scale: number; zp: number; cache?: Buf };

interface Ctx {
  env: Map<string, Value>;
  alloc(bytes: number): number;
}

type Step = (ctx: Ctx) => void;

/** uint8 activations to the integer kernel's padded int16 rows (model.ts, widen*). */
type Widen = (
  pX: number,
  cin: number,
  t: number,
  zx: number,
  pXw: number,
  cinPad: number,
  pl: number,
  pr: number,
) => void;

interface ModelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  /** From channels-first [cin][t]. */
  widen: Widen;
  /** From time-major [t][cin]. */
  widenTimeMajor: Widen;
  dequantizeTimeMajor(
    pQ: number,
    t: number,
    c: number,
    zp: number,
    scale: number,
    pOut: number,
  ): void;
  qconv(
    pXw: number,
    cinPad: number,
    pW: number,
    k: number,
    cout: number,
    tout: number,
    stride: number,
    dilation: number,
    pBias: number,
    pScale: number,
    pOut: number,
    quantized: number,
    zy: number,
    relu: number,
  ): void;
  quantize(pX: number, n: number, scale: number, zp: number, pOut: number): void;
  dequantize(pQ: number, n: number, zp: number, scale: number, pOut: number): void;
  unary(op: number, pX: number, n: number, pOut: number): void;
  setShape(...shapeAndStrides: number[]): void;
  binary(op: number, pA: number, pB: number, pOut: number): void;
  transpose(pX: number, pOut: number): void;
  reduceSum(pX: number, outer: number, red: number, inner: number, pOut: number): void;
  softmax(pX: number, outer: number, n: number, inner: number, pOut: number): void;
  averagePool(
    pX: number,
    rows: number,
    t: number,
    kernel: number,
    stride: number,
    tout: number,
    pOut: number,
  ): void;
  convFloat(
    pX: number,
    n: number,
    cin: number,
    t: number,
    pW: number,
    cout: number,
    k: number,
    pB: number,
    stride: number,
    dilation: number,
    pl: number,
    tout: number,
    pOut: number,
  ): void;
  gemmFloat(
    pA: number,
    pB: number,
    m: number,
    k: number,
    n: number,
    transA: number,
    transB: number,
    alpha: number,
    pOut: number,
  ): void;
}

const UNARY = { Relu: 0, Tanh: 1, Sigmoid: 2, Sqrt: 3 } as const;
const BINARY = { Add: 0, Sub: 1, Mul: 2, Div: 3 } as const;

const SUPPORTED = new Set([
  ...Object.keys(UNARY),
  ...Object.keys(BINARY),
  "QuantizeLinear",
  "DequantizeLinear",
  "Conv",
  "Gemm",
  "Softmax",
  "ReduceSum",
  "ReduceMean",
  "Concat",
  "Transpose",
  "AveragePool",
  "Squeeze",
  "Identity",
]);

/** Operators whose inputs after the first are parameters (scale, zero point, axes), not data. */
const PARAMETERS_FROM_SECOND_INPUT = new Set([
  "QuantizeLinear",
  "DequantizeLinear",
  "ReduceSum",
  "ReduceMean",
  "Squeeze",
]);

const align16 = (n: number) => Math.ceil(n / 16) * 16;
const size = (dims: readonly number[]) => dims.reduce((a, b) => a * b, 1);

function strides(dims: readonly number[]): number[] {
  const s = new Array<number>(dims.length).fill(1);
  for (let i = dims.length - 2; i >= 0; i--) s[i] = s[i + 1] * dims[i + 1];
  return s;
}

function axisOf(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new RangeError(`${op}: axis ${axis} out of range for rank ${rank}`);
  return a;
}

/** Left-pads a shape (with 1) or strides (with 0) to 4 dimensions. */
const pad4 = (v: readonly number[], fill: number) => [...new Array(4 - v.length).fill(fill), ...v];

function ensure(ex: ModelExports, end: number): void {
  const have = ex.memory.buffer.byteLength;
  if (end > have) ex.memory.grow(Math.ceil((end - have) / 65536));
}

export class WasmModelEngine {
  /** The graph's declared inputs and outputs (names, element types, shapes). */
  readonly inputs: OnnxGraph["inputs"];
  readonly outputs: OnnxGraph["outputs"];

  private constructor(
    graph: OnnxGraph,
    private readonly ex: ModelExports,
    private readonly steps: Step[],
    /** First byte of the per-call arena (after the weights and constants). */
    private readonly arena: number,
  ) {
    this.inputs = graph.inputs;
    this.outputs = graph.outputs;
  }

  /**
   * Compiles a serialized ONNX model. Throws UnsupportedModelError for a graph outside what the
   * engine runs, and a plain Error for a file that is not a valid model.
   */
  static create(file: Uint8Array): WasmModelEngine {
    const graph = parseOnnx(file);
    if (graph.inputs.length !== 1) {
      throw new UnsupportedModelError(`${graph.inputs.length} graph inputs (one expected)`);
    }
    for (const n of graph.nodes) {
      if (n.domain !== "" && n.domain !== "ai.onnx") {
        throw new UnsupportedModelError(`operator ${n.domain}.${n.op}`);
      }
      if (!SUPPORTED.has(n.op)) throw new UnsupportedModelError(`operator ${n.op}`);
      if (n.op === "QuantizeLinear") {
        const z = n.inputs[2] ? graph.initializers.get(n.inputs[2]) : undefined;
        if (z && z.type !== OnnxType.UINT8) {
          throw new UnsupportedModelError("activations quantized to int8 (uint8 only)");
        }
      }
    }
    const ex = new WebAssembly.Instance(agentWasm("model", "the model engine"), {})
      .exports as unknown as ModelExports;
    const c = new Compiler(graph, ex);
    const steps = c.compile();
    return new WasmModelEngine(graph, ex, steps, c.top);
  }

  /** Runs the graph on one float input [dims]; returns every graph output by name. */
  run(input: {
    dims: number[];
    data: Float32Array;
  }): Map<string, { dims: number[]; data: Float32Array }> {
    const ex = this.ex;
    let top = this.arena;
    const ctx: Ctx = {
      env: new Map(),
      alloc(bytes) {
        const at = top;
        top = align16(top + bytes);
        ensure(ex, top);
        return at;
      },
    };
    const ptr = ctx.alloc(4 * input.data.length);
    new Float32Array(ex.memory.buffer, ptr, input.data.length).set(input.data);
    ctx.env.set(this.inputs[0].name, { kind: "f", dims: input.dims, ptr });
    for (const step of this.steps) step(ctx);
    const out = new Map<string, { dims: number[]; data: Float32Array }>();
    for (const o of this.outputs) {
      const b = floatOf(ctx, ex, o.name, undefined);
      out.set(o.name, {
        dims: b.dims,
        data: new Float32Array(ex.memory.buffer, b.ptr, size(b.dims)).slice(),
      });
    }
    return out;
  }

  /** Bytes of WebAssembly memory the engine holds (weights, constants and arena). */
  get memoryBytes(): number {
    return this.ex.memory.buffer.byteLength;
  }
}

/** A value as float32 in the module's memory: constants, computed floats, dequantized uint8. */
function floatOf(
  ctx: Ctx,
  ex: ModelExports,
  name: string,
  consts: Map<string, Buf> | undefined,
): Buf {
  const c = consts?.get(name);
  if (c) return c;
  const v = ctx.env.get(name);
  if (!v) throw new Error(`model engine: tensor ${name} was not computed`);
  if (v.kind === "f") return v;
  if (v.kind === "u8")
    throw new Error(`model engine: ${name} is quantized where a float is needed`);
  if (!v.cache) {
    const n = size(v.src.dims);
    const ptr = ctx.alloc(4 * n);
    if (v.src.timeMajor) {
      const [, c, t] = v.src.dims;
      ex.dequantizeTimeMajor(v.src.ptr, t, c, v.zp, v.scale, ptr);
    } else {
      ex.dequantize(v.src.ptr, n, v.zp, v.scale, ptr);
    }
    v.cache = { dims: v.src.dims, ptr };
  }
  return v.cache;
}

const numberAttr = (n: OnnxNode, key: string, fallback: number): number => {
  const v = n.attrs.get(key);
  return typeof v === "number" ? v : fallback;
};

const intsAttr = (n: OnnxNode, key: string): number[] | undefined => {
  const v = n.attrs.get(key);
  return Array.isArray(v) ? v : undefined;
};

/** What a fused quantized layer takes from its DequantizeLinear inputs. */
interface QLayer {
  x: string;
  sx: number;
  zx: number;
  /** int8 weights minus their zero point, int16 in the kernel's layout. */
  w: Int16Array;
  cout: number;
  cin: number;
  cinPad: number;
  k: number;
  sw: Float32Array;
  bias: Int32Array;
}

class Compiler {
  /** First free byte: weights and constants are laid out from the module's heap base. */
  top: number;
  private readonly consts: Map<string, OnnxTensor>;
  private readonly producer = new Map<string, OnnxNode>();
  private readonly consumers = new Map<string, OnnxNode[]>();
  private readonly absorbed = new Set<OnnxNode>();
  private readonly outputs: Set<string>;
  /** Constant tensors as float32 in the module's memory, written when first needed. */
  private readonly placed = new Map<string, Buf>();
  /** DequantizeLinear nodes of constants: folded when (if) a float op needs them. */
  private readonly foldable = new Map<string, OnnxNode>();

  constructor(
    private readonly graph: OnnxGraph,
    private readonly ex: ModelExports,
  ) {
    this.consts = graph.initializers;
    this.top = align16(ex.heapBase());
    this.outputs = new Set(graph.outputs.map((o) => o.name));
    for (const n of graph.nodes) {
      for (const o of n.outputs) this.producer.set(o, n);
      for (const i of n.inputs) {
        if (!i) continue;
        const list = this.consumers.get(i) ?? [];
        list.push(n);
        this.consumers.set(i, list);
      }
    }
  }

  compile(): Step[] {
    const steps: Step[] = [];
    for (const n of this.graph.nodes) {
      if (this.absorbed.has(n)) continue;
      if (n.inputs.every((i) => !i || this.isConst(i))) {
        if (n.op !== "DequantizeLinear") {
          throw new UnsupportedModelError(`${n.op} ${n.name} computes a constant (not folded)`);
        }
        this.foldable.set(n.outputs[0], n);
        continue;
      }
      steps.push(this.step(n));
    }
    return steps;
  }

  private isConst(name: string): boolean {
    return this.consts.has(name) || this.foldable.has(name);
  }

  private alloc(bytes: number): number {
    const at = this.top;
    this.top = align16(this.top + bytes);
    ensure(this.ex, this.top);
    return at;
  }

  /** A constant (initializer or folded DequantizeLinear) as float32 in the module's memory. */
  private placeConst(name: string): Buf {
    const hit = this.placed.get(name);
    if (hit) return hit;
    let dims: number[];
    let data: Float32Array;
    const dq = this.foldable.get(name);
    if (dq) {
      ({ dims, data } = this.dequantizeConst(dq));
    } else {
      const t = this.consts.get(name);
      if (!t) throw new UnsupportedModelError(`tensor ${name} is not a constant`);
      dims = t.dims;
      data = Float32Array.from(t.data as ArrayLike<number>);
    }
    const ptr = this.alloc(4 * Math.max(1, data.length));
    new Float32Array(this.ex.memory.buffer, ptr, data.length).set(data);
    const b = { dims, ptr };
    this.placed.set(name, b);
    return b;
  }

  private dequantizeConst(n: OnnxNode): { dims: number[]; data: Float32Array } {
    const [xn, sn, zn] = n.inputs;
    const x = this.consts.get(xn);
    const s = this.consts.get(sn);
    if (!x || !s)
      throw new UnsupportedModelError(`DequantizeLinear ${n.name} of a computed constant`);
    const z = zn ? this.consts.get(zn) : undefined;
    const out = new Float32Array(x.data.length);
    if (s.data.length === 1) {
      const scale = Number(s.data[0]);
      const zp = z ? Number(z.data[0]) : 0;
      for (let i = 0; i < out.length; i++) out[i] = (Number(x.data[i]) - zp) * scale;
    } else {
      const axis = axisOf(numberAttr(n, "axis", 1), x.dims.length, "DequantizeLinear");
      const inner = size(x.dims.slice(axis + 1));
      const len = x.dims[axis];
      for (let i = 0; i < out.length; i++) {
        const c = Math.floor(i / inner) % len;
        out[i] = (Number(x.data[i]) - (z ? Number(z.data[c]) : 0)) * Number(s.data[c]);
      }
    }
    return { dims: x.dims, data: out };
  }

  private constNumbers(node: OnnxNode, name: string | undefined): number[] | undefined {
    if (!name) return undefined;
    const t = this.consts.get(name);
    if (!t) throw new UnsupportedModelError(`${node.op} ${node.name}: ${name} is not a constant`);
    return Array.from(t.data as ArrayLike<number>, Number);
  }

  private step(n: OnnxNode): Step {
    if (n.op === "Conv" || n.op === "Gemm") {
      const layer = this.layer(n);
      if (layer) return this.fused(n, layer);
    }
    return this.generic(n);
  }

  /**
   * A QuantizeLinear or DequantizeLinear node's per-tensor scale and uint8 zero point (absent:
   * 0); undefined for per-axis parameters or another zero-point type.
   */
  private perTensor(n: OnnxNode): { scale: number; zp: number } | undefined {
    const s = this.consts.get(n.inputs[1]);
    const z = n.inputs[2] ? this.consts.get(n.inputs[2]) : undefined;
    if (s?.data.length !== 1) return undefined;
    if (z && (z.type !== OnnxType.UINT8 || z.data.length !== 1)) return undefined;
    return { scale: Number(s.data[0]), zp: z ? Number(z.data[0]) : 0 };
  }

  private dqOf(name: string | undefined): OnnxNode | undefined {
    const p = name ? this.producer.get(name) : undefined;
    return p?.op === "DequantizeLinear" ? p : undefined;
  }

  /** The quantized layer behind a Conv or Gemm, or undefined when it is not one. */
  private layer(n: OnnxNode): QLayer | undefined {
    const dx = this.dqOf(n.inputs[0]);
    const dw = this.dqOf(n.inputs[1]);
    if (!dx || !dw || this.isConst(dx.inputs[0])) return undefined;
    const qx = this.perTensor(dx); // int8 activations: ONNX Runtime
    if (!qx) return undefined;
    const wq = this.consts.get(dw.inputs[0]);
    const swT = this.consts.get(dw.inputs[1]);
    const zwT = dw.inputs[2] ? this.consts.get(dw.inputs[2]) : undefined;
    if (wq?.type !== OnnxType.INT8 || !swT) return undefined;
    let cout: number;
    let cin: number;
    let k: number;
    let at: (o: number, kk: number, i: number) => number;
    let axis: number;
    if (n.op === "Conv") {
      if (wq.dims.length !== 3 || numberAttr(n, "group", 1) !== 1) return undefined;
      const autoPad = n.attrs.get("auto_pad");
      if (autoPad !== undefined && autoPad !== "NOTSET") return undefined;
      [cout, cin, k] = wq.dims;
      at = (o, kk, i) => (o * cin + i) * k + kk;
      axis = 0;
    } else {
      if (numberAttr(n, "transA", 0) !== 0 || numberAttr(n, "alpha", 1) !== 1) return undefined;
      if (numberAttr(n, "beta", 1) !== 1 || wq.dims.length !== 2) return undefined;
      k = 1;
      if (numberAttr(n, "transB", 0) !== 0) {
        [cout, cin] = wq.dims;
        at = (o, _kk, i) => o * cin + i;
        axis = 0;
      } else {
        [cin, cout] = wq.dims;
        at = (o, _kk, i) => i * cout + o;
        axis = 1;
      }
    }
    const wAxis = axisOf(numberAttr(dw, "axis", 1), wq.dims.length, "DequantizeLinear");
    if (swT.data.length !== 1 && (swT.data.length !== cout || wAxis !== axis)) return undefined;
    const sx = qx.scale;
    const pick = (t: OnnxTensor, o: number) => Number(t.data[t.data.length === 1 ? 0 : o]);
    const sw = new Float32Array(cout);
    for (let o = 0; o < cout; o++) sw[o] = pick(swT, o);
    const cinPad = Math.ceil(cin / 8) * 8;
    // The kernel's layout (agent/assembly/model.ts): [cout / 4][k][cinPad / 8][4][8].
    const w = new Int16Array(Math.ceil(cout / 4) * 4 * k * cinPad);
    for (let o = 0; o < cout; o++) {
      const zw = zwT ? pick(zwT, o) : 0;
      for (let kk = 0; kk < k; kk++) {
        for (let i = 0; i < cin; i++) {
          const to = ((((o >> 2) * k + kk) * (cinPad >> 3) + (i >> 3)) * 4 + (o & 3)) * 8 + (i & 7);
          w[to] = Number(wq.data[at(o, kk, i)]) - zw;
        }
      }
    }
    const bias = new Int32Array(cout);
    if (n.inputs[2]) {
      const db = this.dqOf(n.inputs[2]);
      const bq = db ? this.consts.get(db.inputs[0]) : undefined;
      const sb = db ? this.consts.get(db.inputs[1]) : undefined;
      const zb = db?.inputs[2] ? this.consts.get(db.inputs[2]) : undefined;
      if (bq?.type !== OnnxType.INT32 || !sb || bq.data.length !== cout) return undefined;
      if (zb?.data.some((v) => Number(v) !== 0)) return undefined;
      for (let o = 0; o < cout; o++) {
        // Added to the integer sums, so it must be at their scale.
        const expected = Math.fround(sx * sw[o]);
        if (Math.abs(pick(sb, o) - expected) > 1e-5 * Math.abs(expected)) return undefined;
        bias[o] = Number(bq.data[o]);
      }
    }
    return { x: dx.inputs[0], sx, zx: qx.zp, w, cout, cin, cinPad, k, sw, bias };
  }

  /** The only consumer of `name`, if there is exactly one and `name` is not a graph output. */
  private soleConsumer(name: string): OnnxNode | undefined {
    const c = this.consumers.get(name);
    return c?.length === 1 && !this.outputs.has(name) ? c[0] : undefined;
  }

  private fused(n: OnnxNode, L: QLayer): Step {
    // The output goes through a Relu and/or a QuantizeLinear (to uint8) when they are all that
    // reads it: then the kernel does them.
    let out = n.outputs[0];
    let relu = false;
    let quant: { sy: number; zy: number } | undefined;
    let next = this.soleConsumer(out);
    if (next?.op === "Relu") {
      relu = true;
      this.absorbed.add(next);
      out = next.outputs[0];
      next = this.soleConsumer(out);
    }
    const qy =
      next?.op === "QuantizeLinear" && next.inputs[0] === out ? this.perTensor(next) : undefined;
    if (next && qy) {
      quant = { sy: qy.scale, zy: qy.zp };
      this.absorbed.add(next);
      out = next.outputs[0];
    }
    const ex = this.ex;
    const pW = this.alloc(2 * L.w.length);
    new Int16Array(ex.memory.buffer, pW, L.w.length).set(L.w);
    // Four channels at a time: bias and scale padded to a multiple of 4 (zeros).
    const cout4 = Math.ceil(L.cout / 4) * 4;
    const pBias = this.alloc(4 * cout4);
    new Int32Array(ex.memory.buffer, pBias, cout4).fill(0).set(L.bias);
    const pScale = this.alloc(4 * cout4);
    const scales = new Float32Array(ex.memory.buffer, pScale, cout4).fill(0);
    const f = Math.fround;
    for (let o = 0; o < L.cout; o++) {
      // ONNX Runtime's requantization multiplier, in float32.
      const xw = f(L.sx * L.sw[o]);
      scales[o] = quant ? f(xw / f(quant.sy)) : xw;
    }
    const isConv = n.op === "Conv";
    const stride = isConv ? (intsAttr(n, "strides")?.[0] ?? 1) : 1;
    const dilation = isConv ? (intsAttr(n, "dilations")?.[0] ?? 1) : 1;
    const pads = isConv ? (intsAttr(n, "pads") ?? [0, 0]) : [0, 0];
    const pl = pads[0] ?? 0;
    const pr = pads[1] ?? 0;
    const name = n.name || n.op;
    return (ctx) => {
      const v = ctx.env.get(L.x);
      if (v?.kind !== "u8") throw new Error(`model engine: ${L.x} is not a uint8 tensor`);
      const t = isConv ? v.dims[2] : 1;
      const ok = isConv
        ? v.dims.length === 3 && v.dims[0] === 1 && v.dims[1] === L.cin
        : v.dims.length === 2 && v.dims[0] === 1 && v.dims[1] === L.cin;
      if (!ok)
        throw new RangeError(
          `${name}: input [${v.dims}], expected [1, ${L.cin}${isConv ? ", T" : ""}]`,
        );
      const tout = Math.floor((t + pl + pr - dilation * (L.k - 1) - 1) / stride) + 1;
      if (tout < 1) throw new RangeError(`${name}: ${t} frames are too few for the kernel`);
      const pXw = ctx.alloc(2 * (pl + t + pr) * L.cinPad);
      const pOut = ctx.alloc((quant ? 1 : 4) * L.cout * tout);
      (v.timeMajor ? ex.widenTimeMajor : ex.widen)(v.ptr, L.cin, t, L.zx, pXw, L.cinPad, pl, pr);
      ex.qconv(
        pXw,
        L.cinPad,
        pW,
        L.k,
        L.cout,
        tout,
        stride,
        dilation,
        pBias,
        pScale,
        pOut,
        quant ? 1 : 0,
        quant?.zy ?? 0,
        relu ? 1 : 0,
      );
      const dims = isConv ? [1, L.cout, tout] : [1, L.cout];
      if (quant) ctx.env.set(out, { kind: "u8", dims, ptr: pOut, timeMajor: isConv });
      else ctx.env.set(out, { kind: "f", dims, ptr: pOut });
    };
  }

  /** A node on the float kernels (DequantizeLinear of a computed tensor stays lazy). */
  private generic(n: OnnxNode): Step {
    const ex = this.ex;
    // Constant data inputs go into the module's memory; parameters (scales, zero points, axes)
    // are read as numbers below.
    const dataInputs = PARAMETERS_FROM_SECOND_INPUT.has(n.op) ? n.inputs.slice(0, 1) : n.inputs;
    const consts = new Map<string, Buf>();
    for (const i of dataInputs) if (i && this.isConst(i)) consts.set(i, this.placeConst(i));
    const [a, b, c] = n.inputs;
    const get = (ctx: Ctx, name: string) => floatOf(ctx, ex, name, consts);
    const put = (ctx: Ctx, dims: number[]) => {
      const ptr = ctx.alloc(4 * Math.max(1, size(dims)));
      ctx.env.set(n.outputs[0], { kind: "f", dims, ptr });
      return ptr;
    };
    switch (n.op) {
      case "Identity":
      case "Squeeze": {
        const axes = n.op === "Squeeze" ? (this.constNumbers(n, b) ?? intsAttr(n, "axes")) : [];
        return (ctx) => {
          const x = get(ctx, a);
          const drop = new Set(
            (axes ?? x.dims.flatMap((d, i) => (d === 1 ? [i] : []))).map((i) =>
              axisOf(i, x.dims.length, n.op),
            ),
          );
          ctx.env.set(n.outputs[0], {
            kind: "f",
            dims: x.dims.filter((_, i) => !drop.has(i)),
            ptr: x.ptr,
          });
        };
      }
      case "Relu":
      case "Tanh":
      case "Sigmoid":
      case "Sqrt": {
        const op = UNARY[n.op];
        return (ctx) => {
          const x = get(ctx, a);
          ex.unary(op, x.ptr, size(x.dims), put(ctx, x.dims));
        };
      }
      case "Add":
      case "Sub":
      case "Mul":
      case "Div": {
        const op = BINARY[n.op];
        return (ctx) => {
          const x = get(ctx, a);
          const y = get(ctx, b);
          const dims = broadcast(x.dims, y.dims, n.op);
          setBroadcast(ex, dims, x.dims, y.dims);
          ex.binary(op, x.ptr, y.ptr, put(ctx, dims));
        };
      }
      case "Softmax": {
        const axis = numberAttr(n, "axis", -1);
        return (ctx) => {
          const x = get(ctx, a);
          const ax = axisOf(axis, x.dims.length, "Softmax");
          const outer = size(x.dims.slice(0, ax));
          const inner = size(x.dims.slice(ax + 1));
          ex.softmax(x.ptr, outer, x.dims[ax], inner, put(ctx, x.dims));
        };
      }
      case "Transpose": {
        const perm = intsAttr(n, "perm");
        return (ctx) => {
          const x = get(ctx, a);
          const rank = x.dims.length;
          if (rank > 4) throw new UnsupportedModelError("Transpose above rank 4");
          const p = perm && perm.length > 0 ? perm : x.dims.map((_, i) => rank - 1 - i);
          const dims = p.map((i) => x.dims[i]);
          const xs = strides(x.dims);
          ex.setShape(
            ...pad4(dims, 1),
            ...pad4(
              p.map((i) => xs[i]),
              0,
            ),
            0,
            0,
            0,
            0,
          );
          ex.transpose(x.ptr, put(ctx, dims));
        };
      }
      case "Concat": {
        const axis = numberAttr(n, "axis", 0);
        return (ctx) => {
          const xs = n.inputs.map((i) => get(ctx, i));
          const rank = xs[0].dims.length;
          const ax = axisOf(axis, rank, "Concat");
          for (const x of xs) {
            if (x.dims.length !== rank || x.dims.some((d, i) => i !== ax && d !== xs[0].dims[i])) {
              throw new RangeError(`Concat ${n.name}: shapes differ off axis ${ax}`);
            }
          }
          const dims = [...xs[0].dims];
          dims[ax] = xs.reduce((s, x) => s + x.dims[ax], 0);
          const ptr = put(ctx, dims);
          const outer = size(dims.slice(0, ax));
          const mem = new Uint8Array(ex.memory.buffer);
          let at = ptr;
          for (let o = 0; o < outer; o++) {
            for (const x of xs) {
              const block = 4 * size(x.dims.slice(ax));
              mem.copyWithin(at, x.ptr + o * block, x.ptr + (o + 1) * block);
              at += block;
            }
          }
        };
      }
      case "ReduceSum":
      case "ReduceMean": {
        // Axes: an input since opset 13 (ReduceSum) / 18 (ReduceMean), else an attribute.
        const axes = this.constNumbers(n, b) ?? intsAttr(n, "axes") ?? [];
        const keep = numberAttr(n, "keepdims", 1) !== 0;
        const noop = axes.length === 0 && numberAttr(n, "noop_with_empty_axes", 0) !== 0;
        const mean = n.op === "ReduceMean";
        return (ctx) => {
          const x = get(ctx, a);
          if (noop) {
            ctx.env.set(n.outputs[0], { kind: "f", dims: x.dims, ptr: x.ptr });
            return;
          }
          const rank = x.dims.length;
          const set = [
            ...new Set(axes.length > 0 ? axes.map((i) => axisOf(i, rank, n.op)) : x.dims.keys()),
          ].sort((p, q) => p - q);
          const first = set[0];
          const last = set[set.length - 1];
          if (last - first !== set.length - 1) {
            throw new UnsupportedModelError(`${n.op} ${n.name} over non-adjacent axes`);
          }
          const outer = size(x.dims.slice(0, first));
          const red = size(x.dims.slice(first, last + 1));
          const inner = size(x.dims.slice(last + 1));
          const dims = keep
            ? x.dims.map((d, i) => (set.includes(i) ? 1 : d))
            : x.dims.filter((_, i) => !set.includes(i));
          const ptr = put(ctx, dims);
          ex.reduceSum(x.ptr, outer, red, inner, ptr);
          if (mean) {
            const v = new Float32Array(ex.memory.buffer, ptr, outer * inner);
            for (let i = 0; i < v.length; i++) v[i] /= red;
          }
        };
      }
      case "AveragePool": {
        const kernel = intsAttr(n, "kernel_shape") ?? [];
        const stridesAttr = intsAttr(n, "strides") ?? kernel;
        const pads = intsAttr(n, "pads") ?? [];
        if (
          kernel.length !== 1 ||
          pads.some((p) => p !== 0) ||
          numberAttr(n, "ceil_mode", 0) !== 0
        ) {
          throw new UnsupportedModelError(
            `AveragePool ${n.name}: only 1-D pooling without padding`,
          );
        }
        return (ctx) => {
          const x = get(ctx, a);
          if (x.dims.length !== 3) throw new UnsupportedModelError("AveragePool: only [N, C, T]");
          const [nb, ch, t] = x.dims;
          const tout = Math.floor((t - kernel[0]) / stridesAttr[0]) + 1;
          if (tout < 1)
            throw new RangeError(`AveragePool: ${t} frames are fewer than the kernel ${kernel[0]}`);
          ex.averagePool(
            x.ptr,
            nb * ch,
            t,
            kernel[0],
            stridesAttr[0],
            tout,
            put(ctx, [nb, ch, tout]),
          );
        };
      }
      case "Conv": {
        const autoPad = n.attrs.get("auto_pad");
        if (numberAttr(n, "group", 1) !== 1 || (autoPad !== undefined && autoPad !== "NOTSET")) {
          throw new UnsupportedModelError(`Conv ${n.name}: groups or auto padding`);
        }
        const pads = intsAttr(n, "pads") ?? [0, 0];
        const stride = intsAttr(n, "strides")?.[0] ?? 1;
        const dilation = intsAttr(n, "dilations")?.[0] ?? 1;
        return (ctx) => {
          const x = get(ctx, a);
          const w = get(ctx, b);
          if (x.dims.length !== 3 || w.dims.length !== 3)
            throw new UnsupportedModelError(`Conv ${n.name}: only 1-D`);
          const [nb, cin, t] = x.dims;
          const [cout, wcin, k] = w.dims;
          if (wcin !== cin)
            throw new RangeError(`Conv ${n.name}: ${cin} input channels, weights for ${wcin}`);
          const tout =
            Math.floor((t + (pads[0] ?? 0) + (pads[1] ?? 0) - dilation * (k - 1) - 1) / stride) + 1;
          if (tout < 1)
            throw new RangeError(`Conv ${n.name}: ${t} frames are too few for the kernel`);
          const bias = c ? get(ctx, c).ptr : 0;
          const out = put(ctx, [nb, cout, tout]);
          ex.convFloat(
            x.ptr,
            nb,
            cin,
            t,
            w.ptr,
            cout,
            k,
            bias,
            stride,
            dilation,
            pads[0] ?? 0,
            tout,
            out,
          );
        };
      }
      case "Gemm": {
        const alpha = numberAttr(n, "alpha", 1);
        const beta = numberAttr(n, "beta", 1);
        const transA = numberAttr(n, "transA", 0) !== 0;
        const transB = numberAttr(n, "transB", 0) !== 0;
        if (c && beta !== 1) throw new UnsupportedModelError(`Gemm ${n.name}: beta ${beta}`);
        return (ctx) => {
          const x = get(ctx, a);
          const w = get(ctx, b);
          const [m, k] = transA ? [x.dims[1], x.dims[0]] : x.dims;
          const [k2, nn] = transB ? [w.dims[1], w.dims[0]] : w.dims;
          if (k !== k2) throw new RangeError(`Gemm ${n.name}: [${x.dims}] x [${w.dims}]`);
          const dims = [m, nn];
          const ptr = put(ctx, dims);
          ex.gemmFloat(x.ptr, w.ptr, m, k, nn, transA ? 1 : 0, transB ? 1 : 0, alpha, ptr);
          if (c) {
            const bias = get(ctx, c);
            setBroadcast(ex, dims, dims, bias.dims);
            ex.binary(BINARY.Add, ptr, bias.ptr, ptr);
          }
        };
      }
      case "QuantizeLinear": {
        const q = this.perTensor(n);
        if (!q) throw new UnsupportedModelError(`QuantizeLinear ${n.name}: only per-tensor uint8`);
        return (ctx) => {
          const x = get(ctx, a);
          const count = size(x.dims);
          const ptr = ctx.alloc(count);
          ex.quantize(x.ptr, count, q.scale, q.zp, ptr);
          ctx.env.set(n.outputs[0], { kind: "u8", dims: x.dims, ptr, timeMajor: false });
        };
      }
      case "DequantizeLinear": {
        const q = this.perTensor(n);
        if (!q)
          throw new UnsupportedModelError(`DequantizeLinear ${n.name}: only per-tensor uint8`);
        return (ctx) => {
          const v = ctx.env.get(a);
          if (v?.kind !== "u8") throw new Error(`model engine: ${a} is not a uint8 tensor`);
          ctx.env.set(n.outputs[0], { kind: "dq", src: v, scale: q.scale, zp: q.zp });
        };
      }
      default:
        throw new UnsupportedModelError(`operator ${n.op}`);
    }
  }
}

/** Numpy-style broadcast shape of two operands. */
function broadcast(a: readonly number[], b: readonly number[], op: string): number[] {
  const rank = Math.max(a.length, b.length);
  if (rank > 4) throw new UnsupportedModelError(`${op} above rank 4`);
  const ad = [...new Array(rank - a.length).fill(1), ...a];
  const bd = [...new Array(rank - b.length).fill(1), ...b];
  return ad.map((n, i) => {
    if (n === bd[i] || bd[i] === 1) return n;
    if (n === 1) return bd[i];
    throw new RangeError(`${op}: shapes [${a}] and [${b}] do not broadcast`);
  });
}

/** The kernel's loop bounds and each operand's strides (0 where it is broadcast). */
function setBroadcast(
  ex: ModelExports,
  dims: number[],
  a: readonly number[],
  b: readonly number[],
): void {
  const rank = dims.length;
  const stridesOf = (d: readonly number[]) => {
    const full = [...new Array(rank - d.length).fill(1), ...d];
    return strides(full).map((s, i) => (full[i] === 1 && dims[i] !== 1 ? 0 : s));
  };
  ex.setShape(...pad4(dims, 1), ...pad4(stridesOf(a), 0), ...pad4(stridesOf(b), 0));
}

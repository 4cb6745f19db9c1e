import type { ModelProtoObject, NodeProto, TensorProto } from "../onnx/proto.js";
import { DataType } from "../onnx/proto.js";
import type { Range } from "./calibrate.js";
import type { QuantPlan } from "./plan.js";

export type ActivationType = "int8" | "uint8";

export interface QParams {
  scale: number;
  zeroPoint: number;
}

/** Asymmetric activation quantization over [min, max] widened to include 0 (exactly representable). */
export function activationParams(range: Range, type: ActivationType): QParams {
  const [qmin, qmax] = type === "int8" ? [-128, 127] : [0, 255];
  const min = Math.min(range.min, 0);
  const max = Math.max(range.max, 0);
  if (max === min) return { scale: 1, zeroPoint: type === "int8" ? 0 : 0 };
  const scale = (max - min) / (qmax - qmin);
  const zeroPoint = Math.max(qmin, Math.min(qmax, Math.round(qmin - min / scale)));
  return { scale, zeroPoint };
}

/** Symmetric per-channel int8 weights ([-127, 127], zero point 0) along `axis`. */
export function quantizeWeights(
  data: Float32Array,
  dims: number[],
  axis: number,
): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis];
  const inner = dims.slice(axis + 1).reduce((a, b) => a * b, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const maxAbs = new Float32Array(channels);
  data.forEach((v, i) => {
    const c = channelOf(i);
    maxAbs[c] = Math.max(maxAbs[c], Math.abs(v));
  });
  const scales = maxAbs.map((m) => (m > 0 ? m / 127 : 1));
  const q = new Int8Array(data.length);
  data.forEach((v, i) => {
    q[i] = Math.max(-127, Math.min(127, Math.round(v / scales[channelOf(i)])));
  });
  return { q, scales };
}

function floats(t: TensorProto): Float32Array {
  // A copy in its own buffer: a decoded model's rawData may be a Buffer view at any offset,
  // and a Buffer's slice() is another view.
  const copy = new Uint8Array(t.rawData);
  return new Float32Array(copy.buffer, 0, copy.byteLength / 4);
}

function tensor(
  name: string,
  data: Float32Array | Int8Array | Uint8Array | Int32Array,
  dims: number[],
): TensorProto {
  const dataType =
    data instanceof Float32Array
      ? DataType.FLOAT
      : data instanceof Int8Array
        ? DataType.INT8
        : data instanceof Uint8Array
          ? DataType.UINT8
          : DataType.INT32;
  return {
    name,
    dims,
    dataType,
    rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice(),
  };
}

const node = (opType: string, input: string[], output: string[], axis?: number): NodeProto => ({
  name: `${opType}_${output[0]}`,
  opType,
  input,
  output,
  attribute: axis === undefined ? [] : [{ name: "axis", type: 2, i: axis }],
});

/**
 * Rewrites a float graph into QDQ form: QuantizeLinear/DequantizeLinear pairs on the planned
 * activations, DequantizeLinear over int8 weights and int32 biases. The graph stays valid ONNX
 * that any runtime executes; ONNX Runtime's optimiser fuses each DQ -> Conv/Gemm -> Q group into
 * an integer kernel (QLinearConv, QGemm).
 */
export function quantizeQdq(
  model: ModelProtoObject,
  plan: QuantPlan,
  ranges: Map<string, Range>,
  activationType: ActivationType,
): ModelProtoObject {
  const graph = model.graph;
  const init = new Map(graph.initializer.map((t) => [t.name, t]));
  const act = new Map<string, QParams>();
  for (const name of plan.activations) {
    const r = ranges.get(name);
    if (!r) throw new Error(`no calibration range for ${name}`);
    act.set(name, activationParams(r, activationType));
  }
  const zpArray = (v: number) => (activationType === "int8" ? Int8Array.of(v) : Uint8Array.of(v));
  const added: TensorProto[] = [];
  const removed = new Set<string>();
  /** Tensor renames: consumers of an activation read its dequantized copy. */
  const rename = new Map<string, string>();
  const nodes: NodeProto[] = [];

  const emitQdq = (name: string) => {
    const p = act.get(name);
    if (!p) return;
    added.push(tensor(`${name}/scale`, Float32Array.of(p.scale), []));
    added.push(tensor(`${name}/zero_point`, zpArray(p.zeroPoint), []));
    nodes.push(
      node("QuantizeLinear", [name, `${name}/scale`, `${name}/zero_point`], [`${name}/q`]),
    );
    nodes.push(
      node(
        "DequantizeLinear",
        [`${name}/q`, `${name}/scale`, `${name}/zero_point`],
        [`${name}/dq`],
      ),
    );
    rename.set(name, `${name}/dq`);
  };

  for (const name of plan.activations) {
    if (graph.input.some((i) => i.name === name)) emitQdq(name);
  }
  const targets = new Map(plan.targets.map((t) => [t.index, t]));
  graph.node.forEach((original, index) => {
    const n: NodeProto = { ...original, input: original.input.map((i) => rename.get(i) ?? i) };
    const target = targets.get(index);
    if (target) {
      const w = init.get(target.weight);
      const xp = act.get(target.input);
      if (!w || !xp) throw new Error(`quantization target ${original.name} lost its inputs`);
      const { q, scales } = quantizeWeights(floats(w), w.dims, target.axis);
      const out = w.dims[target.axis];
      added.push(tensor(`${w.name}/q`, q, w.dims));
      added.push(tensor(`${w.name}/scale`, scales, [out]));
      added.push(tensor(`${w.name}/zero_point`, new Int8Array(out), [out]));
      nodes.push(
        node(
          "DequantizeLinear",
          [`${w.name}/q`, `${w.name}/scale`, `${w.name}/zero_point`],
          [`${w.name}/dq`],
          target.axis,
        ),
      );
      removed.add(w.name);
      n.input[1] = `${w.name}/dq`;
      const b = target.bias ? init.get(target.bias) : undefined;
      if (b) {
        // Bias in the accumulator's scale (input scale x weight scale), as integer kernels add it.
        const bScales = scales.map((s) => s * xp.scale);
        const bq = Int32Array.from(floats(b), (v, i) => Math.round(v / bScales[i]));
        added.push(tensor(`${b.name}/q`, bq, b.dims));
        added.push(tensor(`${b.name}/scale`, bScales, [out]));
        added.push(tensor(`${b.name}/zero_point`, new Int32Array(out), [out]));
        nodes.push(
          node(
            "DequantizeLinear",
            [`${b.name}/q`, `${b.name}/scale`, `${b.name}/zero_point`],
            [`${b.name}/dq`],
            0,
          ),
        );
        removed.add(b.name);
        n.input[2] = `${b.name}/dq`;
      }
    }
    nodes.push(n);
    for (const o of original.output) emitQdq(o);
  });
  return {
    ...model,
    graph: {
      ...graph,
      node: nodes,
      initializer: [...graph.initializer.filter((t) => !removed.has(t.name)), ...added],
    },
  };
}

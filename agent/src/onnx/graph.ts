import { Reader } from "./protobuf.js";

/**
 * An ONNX model's main graph as plain data (nodes, attributes, initializers, declared inputs
 * and outputs), parsed without ONNX Runtime, for the agent's own model engine
 * (model/wasm-engine.ts). Field numbers are onnx.proto's. Only what a single-graph model needs:
 * subgraphs, sparse and external tensors are refused with an error naming them.
 */

/** TensorProto.DataType values the engine handles. */
export const OnnxType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;

export type TensorData = Float32Array | Uint8Array | Int8Array | Int32Array | Float64Array;

export interface OnnxTensor {
  name: string;
  dims: number[];
  type: number;
  /** INT64 values are given as float64 (exact below 2^53: shapes, axes). */
  data: TensorData;
}

export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

export type AttributeValue = number | number[] | string | OnnxTensor;

export interface OnnxNode {
  name: string;
  op: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attrs: Map<string, AttributeValue>;
}

export interface OnnxValueInfo {
  name: string;
  elemType: number;
  /** Each dimension's size, or its symbolic name; undefined when the shape is not declared. */
  dims: (number | string)[] | undefined;
}

export interface OnnxGraph {
  /** Default-domain opset version. */
  opset: number;
  nodes: OnnxNode[];
  initializers: Map<string, OnnxTensor>;
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
}

const utf8 = new TextDecoder();

function text(buf: Uint8Array, span: [number, number]): string {
  return utf8.decode(buf.subarray(span[0], span[1]));
}

/** Signed varints of a packed field, or the one varint of an unpacked occurrence. */
function varints(
  buf: Uint8Array,
  f: { span?: [number, number]; at: number },
  end: number,
): number[] {
  if (!f.span) return [new Reader(buf, f.at, end).int64()];
  const out: number[] = [];
  const r = new Reader(buf, f.span[0], f.span[1]);
  while (r.pos < r.end) out.push(r.int64());
  return out;
}

function view(buf: Uint8Array, span: [number, number]): DataView {
  return new DataView(buf.buffer, buf.byteOffset + span[0], span[1] - span[0]);
}

/** Float32 values of a packed field, or the one value of an unpacked (fixed32) occurrence. */
function float32s(buf: Uint8Array, f: { span?: [number, number]; at: number }): number[] {
  if (!f.span) return [new DataView(buf.buffer, buf.byteOffset + f.at, 4).getFloat32(0, true)];
  const v = view(buf, f.span);
  const out: number[] = [];
  for (let i = 0; i + 4 <= v.byteLength; i += 4) out.push(v.getFloat32(i, true));
  return out;
}

/** A copy of raw bytes (a Buffer's slice() would be a view of the whole file). */
function bytes<T extends Uint8Array | Int8Array>(
  buf: Uint8Array,
  span: [number, number],
  type: { new (b: ArrayBufferLike, offset: number, length: number): T },
): T {
  return new type(buf.buffer, buf.byteOffset + span[0], span[1] - span[0]).slice() as T;
}

/** Little-endian values of `width` bytes each, read one by one (the file need not be aligned). */
function little<T extends Float32Array | Int32Array | Float64Array>(
  buf: Uint8Array,
  span: [number, number],
  width: number,
  read: (v: DataView, at: number) => number,
  type: { new (n: number): T },
): T {
  const v = view(buf, span);
  const out = new type(v.byteLength / width);
  for (let i = 0; i < out.length; i++) out[i] = read(v, width * i);
  return out;
}

/**
 * A TensorProto. `wanted(name, type)` false: its values are not decoded (data is empty), so a
 * caller that needs a few tensors of a large file does not copy the others.
 */
export function parseTensor(
  buf: Uint8Array,
  start: number,
  end: number,
  wanted: (name: string, type: number) => boolean = () => true,
): OnnxTensor {
  const r = new Reader(buf, start, end);
  const dims: number[] = [];
  let name = "";
  let type = 0;
  let raw: [number, number] | undefined;
  const floats: number[] = [];
  const ints: number[] = [];
  for (const f of r.fields()) {
    switch (f.field) {
      case 1:
        dims.push(...varints(buf, f, end));
        break;
      case 2:
        type = new Reader(buf, f.at, end).varint();
        break;
      case 4: // float_data
        floats.push(...float32s(buf, f));
        break;
      case 5: // int32_data (also uint8 / int8)
      case 7: // int64_data
        ints.push(...varints(buf, f, end));
        break;
      case 8:
        if (f.span) name = text(buf, f.span);
        break;
      case 9:
        raw = f.span;
        break;
      case 14:
        throw new Error(`tensor ${name || "?"} keeps its data in an external file`);
    }
  }
  if (!wanted(name, type)) return { name, dims, type, data: new Float32Array(0) };
  const count = dims.reduce((a, b) => a * b, 1);
  let data: TensorData;
  // Copied out of the file: its bytes need not be aligned. ONNX stores little-endian.
  switch (type) {
    case OnnxType.FLOAT:
      data = raw
        ? little(buf, raw, 4, (v, at) => v.getFloat32(at, true), Float32Array)
        : Float32Array.from(floats);
      break;
    case OnnxType.UINT8:
      data = raw ? bytes(buf, raw, Uint8Array) : Uint8Array.from(ints);
      break;
    case OnnxType.INT8:
      data = raw ? bytes(buf, raw, Int8Array) : Int8Array.from(ints);
      break;
    case OnnxType.INT32:
      data = raw
        ? little(buf, raw, 4, (v, at) => v.getInt32(at, true), Int32Array)
        : Int32Array.from(ints);
      break;
    case OnnxType.INT64:
      data = raw
        ? little(buf, raw, 8, (v, at) => Number(v.getBigInt64(at, true)), Float64Array)
        : Float64Array.from(ints);
      break;
    default:
      throw new Error(
        `tensor ${name || "?"} has data type ${type}, which the engine does not read`,
      );
  }
  if (data.length !== count) {
    throw new Error(`tensor ${name || "?"} holds ${data.length} values for shape [${dims}]`);
  }
  return { name, dims, type, data };
}

function parseAttribute(buf: Uint8Array, start: number, end: number): [string, AttributeValue] {
  const r = new Reader(buf, start, end);
  let name = "";
  let value: AttributeValue | undefined;
  const ints: number[] = [];
  const floats: number[] = [];
  let kind = 0;
  for (const f of r.fields()) {
    switch (f.field) {
      case 1:
        if (f.span) name = text(buf, f.span);
        break;
      case 2:
        value = float32s(buf, f)[0];
        break;
      case 3:
        value = new Reader(buf, f.at, end).int64();
        break;
      case 4:
        if (f.span) value = text(buf, f.span);
        break;
      case 5:
        if (f.span) value = parseTensor(buf, f.span[0], f.span[1]);
        break;
      case 6:
      case 11:
        throw new Error(`attribute ${name || "?"} holds a subgraph`);
      case 7:
        floats.push(...float32s(buf, f));
        break;
      case 8:
        ints.push(...varints(buf, f, end));
        break;
      case 20:
        kind = new Reader(buf, f.at, end).varint();
        break;
    }
  }
  // AttributeType FLOATS 6, INTS 7: an empty list has no values to tell it apart.
  if (value === undefined) value = kind === 6 || floats.length > 0 ? floats : ints;
  return [name, value];
}

function parseNode(buf: Uint8Array, start: number, end: number): OnnxNode {
  const node: OnnxNode = {
    name: "",
    op: "",
    domain: "",
    inputs: [],
    outputs: [],
    attrs: new Map(),
  };
  for (const f of new Reader(buf, start, end).fields()) {
    if (!f.span) continue;
    if (f.field === 1) node.inputs.push(text(buf, f.span));
    else if (f.field === 2) node.outputs.push(text(buf, f.span));
    else if (f.field === 3) node.name = text(buf, f.span);
    else if (f.field === 4) node.op = text(buf, f.span);
    else if (f.field === 7) node.domain = text(buf, f.span);
    else if (f.field === 5) {
      const [k, v] = parseAttribute(buf, f.span[0], f.span[1]);
      node.attrs.set(k, v);
    }
  }
  return node;
}

function parseValueInfo(buf: Uint8Array, start: number, end: number): OnnxValueInfo {
  const info: OnnxValueInfo = { name: "", elemType: 0, dims: undefined };
  for (const f of new Reader(buf, start, end).fields()) {
    if (!f.span) continue;
    if (f.field === 1) info.name = text(buf, f.span);
    if (f.field !== 2) continue;
    for (const t of new Reader(buf, f.span[0], f.span[1]).fields()) {
      if (t.field !== 1 || !t.span) continue; // TypeProto.tensor_type
      for (const tt of new Reader(buf, t.span[0], t.span[1]).fields()) {
        if (tt.field === 1) info.elemType = new Reader(buf, tt.at, t.span[1]).varint();
        if (tt.field !== 2 || !tt.span) continue; // shape
        info.dims = [];
        for (const d of new Reader(buf, tt.span[0], tt.span[1]).fields()) {
          if (d.field !== 1 || !d.span) continue;
          let dim: number | string = "?";
          for (const v of new Reader(buf, d.span[0], d.span[1]).fields()) {
            if (v.field === 1) dim = new Reader(buf, v.at, d.span[1]).varint();
            if (v.field === 2 && v.span) dim = text(buf, v.span);
          }
          info.dims.push(dim);
        }
      }
    }
  }
  return info;
}

/**
 * The FLOAT initializers of a model's main graph, by name: all of them, or those in `names`
 * (the others are skipped without decoding their data). Silero's weights (vad/silero-wasm.ts).
 */
export function floatInitializers(
  file: Uint8Array,
  names?: Iterable<string>,
): Map<string, FloatTensor> {
  const only = names ? new Set(names) : undefined;
  const wanted = (name: string, type: number) =>
    type === OnnxType.FLOAT && (!only || only.has(name));
  const out = new Map<string, FloatTensor>();
  for (const m of new Reader(file).fields()) {
    if (m.field !== 7 || !m.span) continue; // ModelProto.graph
    for (const g of new Reader(file, m.span[0], m.span[1]).fields()) {
      if (g.field !== 5 || !g.span) continue; // GraphProto.initializer
      const t = parseTensor(file, g.span[0], g.span[1], wanted);
      if (t.data instanceof Float32Array && t.data.length > 0)
        out.set(t.name, { dims: t.dims, data: t.data });
    }
  }
  return out;
}

/** Parses a serialized ModelProto. Throws an Error saying what is wrong with the file. */
export function parseOnnx(file: Uint8Array): OnnxGraph {
  let opset = 0;
  let graph: OnnxGraph | undefined;
  for (const m of new Reader(file).fields()) {
    if (m.field === 8 && m.span) {
      let domain = "";
      let version = 0;
      for (const o of new Reader(file, m.span[0], m.span[1]).fields()) {
        if (o.field === 1 && o.span) domain = text(file, o.span);
        if (o.field === 2) version = new Reader(file, o.at, m.span[1]).varint();
      }
      if (domain === "" || domain === "ai.onnx") opset = version;
    }
    if (m.field !== 7 || !m.span) continue;
    const g: OnnxGraph = { opset: 0, nodes: [], initializers: new Map(), inputs: [], outputs: [] };
    for (const f of new Reader(file, m.span[0], m.span[1]).fields()) {
      if (!f.span) continue;
      if (f.field === 1) g.nodes.push(parseNode(file, f.span[0], f.span[1]));
      else if (f.field === 5) {
        const t = parseTensor(file, f.span[0], f.span[1]);
        g.initializers.set(t.name, t);
      } else if (f.field === 15) throw new Error("the graph has sparse initializers");
      else if (f.field === 11) g.inputs.push(parseValueInfo(file, f.span[0], f.span[1]));
      else if (f.field === 12) g.outputs.push(parseValueInfo(file, f.span[0], f.span[1]));
    }
    graph = g;
  }
  if (!graph) throw new Error("no graph in the file (not an ONNX model)");
  graph.opset = opset;
  // Initializers may also be listed as inputs (older exporters); they are not fed.
  graph.inputs = graph.inputs.filter((i) => !graph?.initializers.has(i.name));
  return graph;
}

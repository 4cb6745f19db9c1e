/**
 * The float initializers (weights) of an ONNX file, read without ONNX Runtime or a protobuf
 * library (onnx/protobuf.ts) by walking ModelProto.graph.initializer. The agent uses it to run
 * Silero's weights in its own WebAssembly (silero-wasm.ts); only the tensors asked for are
 * decoded.
 */
import { Reader } from "../onnx/protobuf.js";

export interface FloatTensor {
  dims: number[];
  data: Float32Array;
}

/** ONNX TensorProto.DataType FLOAT. */
const FLOAT = 1;

function tensor(
  buf: Uint8Array,
  start: number,
  end: number,
  wanted: (name: string) => boolean,
): { name: string } & FloatTensor {
  const r = new Reader(buf, start, end);
  const dims: number[] = [];
  let name = "";
  let type = 0;
  let raw: [number, number] | undefined;
  let floats: [number, number] | undefined;
  for (const f of r.fields()) {
    if (f.field === 1) {
      if (f.span) {
        const d = new Reader(buf, f.span[0], f.span[1]);
        while (d.pos < d.end) dims.push(d.varint());
      } else {
        dims.push(new Reader(buf, f.at, end).varint());
      }
    } else if (f.field === 2 && f.wire === 0) {
      type = new Reader(buf, f.at, end).varint();
    } else if (f.field === 4 && f.span) {
      floats = f.span;
    } else if (f.field === 8 && f.span) {
      name = new TextDecoder().decode(buf.subarray(f.span[0], f.span[1]));
    } else if (f.field === 9 && f.span) {
      raw = f.span;
    } else if (f.field === 14) {
      throw new Error(`initializer ${name || "?"} keeps its data in an external file`);
    }
  }
  const bytes = raw ?? floats;
  let data = new Float32Array(0);
  if (type === FLOAT && bytes && wanted(name)) {
    // Copied out: the file's bytes need not be 4-byte aligned. ONNX stores little-endian.
    const view = new DataView(buf.buffer, buf.byteOffset + bytes[0], bytes[1] - bytes[0]);
    data = new Float32Array(view.byteLength / 4);
    for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(4 * i, true);
  }
  return { name, dims, data };
}

/**
 * The FLOAT initializers of the model's main graph, by name: all of them, or those in `names`
 * (the others are skipped without decoding their data).
 */
export function floatInitializers(
  file: Uint8Array,
  names?: Iterable<string>,
): Map<string, FloatTensor> {
  const only = names ? new Set(names) : undefined;
  const wanted = (name: string) => !only || only.has(name);
  const out = new Map<string, FloatTensor>();
  const model = new Reader(file);
  for (const m of model.fields()) {
    if (m.field !== 7 || !m.span) continue; // ModelProto.graph
    const graph = new Reader(file, m.span[0], m.span[1]);
    for (const g of graph.fields()) {
      if (g.field !== 5 || !g.span) continue; // GraphProto.initializer
      const t = tensor(file, g.span[0], g.span[1], wanted);
      if (t.data.length > 0) out.set(t.name, { dims: t.dims, data: t.data });
    }
  }
  return out;
}

import {
  type AttributeProto,
  AttributeType,
  DataType,
  type DataTypeCode,
  type GraphProto,
  type ModelProtoObject,
  type NodeProto,
  type TensorProto,
  type ValueInfoProto,
} from "./proto.js";

/** The opset every exported graph declares (the newest that Debian's onnx.checker knows). */
export const OPSET = 17;
/** IR version 8 goes with opset 17 (ONNX 1.12). */
export const IR_VERSION = 8;

/** Integers become INT attributes; wrap a float that may be whole with `float()`. */
export type AttrValue = number | string | number[] | { float: number } | { floats: number[] };
export type Dim = number | string;
export type TypedData = Float32Array | Int8Array | Uint8Array | Int32Array | BigInt64Array;

function dataTypeOf(data: TypedData): DataTypeCode {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int32Array) return DataType.INT32;
  return DataType.INT64;
}

/** ONNX raw_data is little-endian, which every platform Node runs on is. */
function rawBytes(data: TypedData): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
}

function attribute(name: string, value: AttrValue): AttributeProto {
  if (typeof value === "string") {
    return { name, type: AttributeType.STRING, s: new TextEncoder().encode(value) };
  }
  if (typeof value === "number") {
    return Number.isInteger(value)
      ? { name, type: AttributeType.INT, i: value }
      : { name, type: AttributeType.FLOAT, f: value };
  }
  if (Array.isArray(value)) return { name, type: AttributeType.INTS, ints: value };
  if ("float" in value) return { name, type: AttributeType.FLOAT, f: value.float };
  return { name, type: AttributeType.FLOATS, floats: value.floats };
}

/** Attributes that are floats even when the value happens to be whole (e.g. epsilon 1). */
export const float = (v: number): AttrValue => ({ float: v });

function valueInfo(name: string, elemType: DataTypeCode, dims: Dim[]): ValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

/**
 * Builds an ONNX graph node by node. Tensor names are unique; `node` returns the output names so
 * that layers compose as expressions.
 */
export class GraphBuilder {
  readonly nodes: NodeProto[] = [];
  readonly initializers = new Map<string, TensorProto>();
  readonly inputs: ValueInfoProto[] = [];
  readonly outputs: ValueInfoProto[] = [];
  private counter = 0;

  /** A fresh tensor name with a readable prefix. */
  fresh(prefix: string): string {
    return `${prefix}_${this.counter++}`;
  }

  input(name: string, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, DataType.FLOAT, dims));
    return name;
  }

  output(name: string, dims: Dim[]): void {
    this.outputs.push(valueInfo(name, DataType.FLOAT, dims));
  }

  /** A constant tensor stored in the model. */
  constant(name: string, data: TypedData, dims: number[]): string {
    if (this.initializers.has(name)) throw new Error(`duplicate initializer ${name}`);
    const count = dims.reduce((a, b) => a * b, 1);
    if (count !== data.length) {
      throw new Error(`initializer ${name}: ${data.length} values for shape [${dims}]`);
    }
    this.initializers.set(name, {
      name,
      dims,
      dataType: dataTypeOf(data),
      rawData: rawBytes(data),
    });
    return name;
  }

  /** An int64 vector constant (axes, shapes). */
  ints(name: string, values: number[]): string {
    return this.constant(name, BigInt64Array.from(values.map(BigInt)), [values.length]);
  }

  node(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    outputNames?: string[],
  ): string[] {
    const outputs = outputNames ?? [this.fresh(opType.toLowerCase())];
    this.nodes.push({
      name: `${opType}_${this.nodes.length}`,
      opType,
      input: inputs,
      output: outputs,
      attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)),
    });
    return outputs;
  }

  /** One-output node. */
  op(
    opType: string,
    inputs: string[],
    attrs: Record<string, AttrValue> = {},
    out?: string,
  ): string {
    return this.node(opType, inputs, attrs, out ? [out] : undefined)[0];
  }

  graph(name: string, docString?: string): GraphProto {
    return {
      name,
      node: this.nodes,
      initializer: [...this.initializers.values()],
      input: this.inputs,
      output: this.outputs,
      ...(docString ? { docString } : {}),
    };
  }

  model(opts: {
    name: string;
    producerVersion: string;
    metadata: Record<string, string>;
    docString?: string;
  }): ModelProtoObject {
    return {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: "", version: OPSET }],
      producerName: "ser-edge trainer",
      producerVersion: opts.producerVersion,
      graph: this.graph(opts.name, opts.docString),
      metadataProps: Object.entries(opts.metadata).map(([key, value]) => ({ key, value })),
    };
  }
}

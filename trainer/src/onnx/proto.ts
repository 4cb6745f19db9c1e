import { fileURLToPath } from "node:url";
import protobuf from "protobufjs";

/**
 * The official onnx.proto (vendored in trainer/proto, the same version as the checker CI runs),
 * loaded with protobufjs: messages are plain objects with camelCase field names.
 */
const root = protobuf.loadSync(fileURLToPath(new URL("../../proto/onnx.proto", import.meta.url)));
const ModelProto = root.lookupType("onnx.ModelProto");

/** TensorProto.DataType values used here. */
export const DataType = { FLOAT: 1, UINT8: 2, INT8: 3, INT32: 6, INT64: 7 } as const;
export type DataTypeCode = (typeof DataType)[keyof typeof DataType];

/** AttributeProto.AttributeType values used here. */
export const AttributeType = { FLOAT: 1, INT: 2, STRING: 3, FLOATS: 6, INTS: 7 } as const;

export interface TensorProto {
  name: string;
  dims: number[];
  dataType: DataTypeCode;
  rawData: Uint8Array;
}

export interface AttributeProto {
  name: string;
  type: number;
  f?: number;
  i?: number;
  s?: Uint8Array;
  floats?: number[];
  ints?: number[];
}

export interface NodeProto {
  name: string;
  opType: string;
  domain?: string;
  input: string[];
  output: string[];
  attribute: AttributeProto[];
}

export interface ValueInfoProto {
  name: string;
  type: {
    tensorType: {
      elemType: DataTypeCode;
      /** Absent: shape unknown (e.g. intermediate tensors exposed for calibration). */
      shape?: { dim: ({ dimValue: number } | { dimParam: string })[] };
    };
  };
}

export interface GraphProto {
  name: string;
  node: NodeProto[];
  initializer: TensorProto[];
  input: ValueInfoProto[];
  output: ValueInfoProto[];
  valueInfo?: ValueInfoProto[];
  docString?: string;
}

export interface ModelProtoObject {
  irVersion: number;
  opsetImport: { domain: string; version: number }[];
  producerName: string;
  producerVersion: string;
  modelVersion?: number;
  docString?: string;
  graph: GraphProto;
  metadataProps: { key: string; value: string }[];
}

/** Serialises a model; a structural mistake is an error here, not a corrupt file later. */
export function encodeModel(model: ModelProtoObject): Uint8Array {
  const problem = ModelProto.verify(model);
  if (problem) throw new Error(`invalid ONNX model: ${problem}`);
  return ModelProto.encode(ModelProto.fromObject(model)).finish();
}

/** Parses model bytes back into plain objects (int64 as numbers, bytes as Uint8Array). */
export function decodeModel(bytes: Uint8Array): ModelProtoObject {
  const message = ModelProto.decode(bytes);
  return ModelProto.toObject(message, {
    longs: Number,
    arrays: true,
  }) as unknown as ModelProtoObject;
}

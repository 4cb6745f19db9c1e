import type { GraphProto, NodeProto } from "../onnx/proto.js";

/**
 * Which parts of an exported graph become int8. A Conv or Gemm with constant weights is
 * quantized when ONNX Runtime can run it as an integer kernel: its input activation gets a
 * Quantize/Dequantize pair, its weights per-channel int8, its bias int32. A Conv's output must be
 * re-quantized too (QLinearConv has an int8 output): after its Relu when one follows (the range
 * then starts at 0 and ONNX Runtime folds the Relu into the zero point), else right after the
 * Conv (the attention's hidden layer, before its Tanh). What feeds a Softmax stays float
 * (attention scores, logits: small differences there move probabilities), as do LSTM and the
 * pooling maths.
 */
export interface QuantTarget {
  node: NodeProto;
  /** Index of the node in graph.node. */
  index: number;
  /** Activation input to quantize. */
  input: string;
  weight: string;
  bias?: string;
  /** Output channel axis of the weight: 0 for Conv [out, in, k], 1 for Gemm [in, out]. */
  axis: number;
  /** The tensor re-quantized after the op: its Relu's output, or its own for a bare Conv. */
  output?: string;
}

export interface QuantPlan {
  targets: QuantTarget[];
  /** Float tensors whose range calibration must observe. */
  activations: string[];
}

function consumers(graph: GraphProto, tensor: string): NodeProto[] {
  return graph.node.filter((n) => n.input.includes(tensor));
}

export function planQuantization(graph: GraphProto): QuantPlan {
  const constants = new Set(graph.initializer.map((t) => t.name));
  const targets: QuantTarget[] = [];
  graph.node.forEach((node, index) => {
    if (node.opType !== "Conv" && node.opType !== "Gemm") return;
    const [input, weight, bias] = node.input;
    if (!constants.has(weight) || (bias && !constants.has(bias))) return;
    if (node.attribute.some((a) => a.name.startsWith("trans") && a.i)) return; // not exported
    const next = consumers(graph, node.output[0]);
    const relu = next.length === 1 && next[0].opType === "Relu" ? next[0] : undefined;
    const feedsSoftmax = next.some((n) => n.opType === "Softmax");
    if (node.opType === "Conv" && feedsSoftmax) return;
    const output = relu ? relu.output[0] : node.opType === "Conv" ? node.output[0] : undefined;
    targets.push({
      node,
      index,
      input,
      weight,
      ...(bias ? { bias } : {}),
      axis: node.opType === "Conv" ? 0 : 1,
      ...(output ? { output } : {}),
    });
  });
  const activations = new Set<string>();
  for (const t of targets) {
    activations.add(t.input);
    if (t.output) activations.add(t.output);
  }
  return { targets, activations: [...activations] };
}

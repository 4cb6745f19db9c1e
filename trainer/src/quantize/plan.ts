import type { GraphProto, NodeProto } from "../onnx/proto.js";

/**
 * Which parts of an exported graph become int8. A Conv or Gemm with constant weights is
 * quantized when ONNX Runtime can run it as an integer kernel: its input activation gets a
 * Quantize/Dequantize pair, its weights per-channel int8, its bias int32. A Conv's output must be
 * re-quantized too (QLinearConv has an int8 output), so only Convs followed by Relu qualify: the
 * pair goes after the Relu, whose range starts at 0, and ONNX Runtime folds the Relu into the
 * zero point. Attention scoring (Conv then Tanh), LSTM and the pooling maths stay float.
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
  /** The Relu output to re-quantize, when a Relu follows. */
  reluOutput?: string;
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
    if (node.opType === "Conv" && !relu) return;
    targets.push({
      node,
      index,
      input,
      weight,
      ...(bias ? { bias } : {}),
      axis: node.opType === "Conv" ? 0 : 1,
      ...(relu ? { reluOutput: relu.output[0] } : {}),
    });
  });
  const activations = new Set<string>();
  for (const t of targets) {
    activations.add(t.input);
    if (t.reluOutput) activations.add(t.reluOutput);
  }
  return { targets, activations: [...activations] };
}

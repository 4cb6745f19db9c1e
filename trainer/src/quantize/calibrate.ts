import * as ort from "onnxruntime-node";
import { DataType, encodeModel, type ModelProtoObject } from "../onnx/proto.js";

/** A calibration input: row-major [frames, width] normalised features, as the agent feeds them. */
export interface CalibrationInput {
  x: Float32Array;
  frames: number;
}

export interface Range {
  min: number;
  max: number;
}

/** Range-selection rules: the observed extremes, or symmetric percentiles that ignore outliers. */
export type CalibrationMethod = "minmax" | `percentile-${string}`;

export const CALIBRATION_METHODS: CalibrationMethod[] = [
  "minmax",
  "percentile-99.999",
  "percentile-99.99",
  "percentile-99.9",
];

const RESERVOIR = 1 << 17;

/** Running extremes plus a uniform reservoir sample of a tensor's values, for percentiles. */
class Observer {
  min = Number.POSITIVE_INFINITY;
  max = Number.NEGATIVE_INFINITY;
  private seen = 0;
  private readonly sample = new Float32Array(RESERVOIR);
  private state = 0x9e3779b9; // xorshift32: deterministic calibration

  private random(): number {
    let s = this.state;
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    this.state = s >>> 0;
    return this.state / 2 ** 32;
  }

  observe(values: Float32Array): void {
    for (const v of values) {
      if (v < this.min) this.min = v;
      if (v > this.max) this.max = v;
      if (this.seen < RESERVOIR) this.sample[this.seen] = v;
      else {
        const j = Math.floor(this.random() * (this.seen + 1));
        if (j < RESERVOIR) this.sample[j] = v;
      }
      this.seen++;
    }
  }

  range(method: CalibrationMethod): Range {
    if (this.seen === 0) throw new Error("calibration saw no values for a tensor");
    if (method === "minmax") return { min: Math.min(this.min, 0), max: Math.max(this.max, 0) };
    const p = Number(method.slice("percentile-".length)) / 100;
    if (!(p > 0.5 && p <= 1)) throw new Error(`bad calibration method ${method}`);
    const sorted = this.sample.slice(0, Math.min(this.seen, RESERVOIR)).sort();
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
    // A Relu output's lower end is exactly 0; keep it there (the zero point folds the Relu).
    const lo = this.min >= 0 ? 0 : Math.min(at(1 - p), 0);
    return { min: lo, max: Math.max(at(p), 0) };
  }
}

export interface Calibration {
  tensors: string[];
  ranges(method: CalibrationMethod): Map<string, Range>;
}

/**
 * Runs the float model in ONNX Runtime over the calibration inputs with the named intermediate
 * tensors exposed as extra outputs, and records their values.
 */
export async function calibrate(
  model: ModelProtoObject,
  tensors: string[],
  inputs: CalibrationInput[],
  inputName: string,
): Promise<Calibration> {
  const width = model.graph.input[0].type.tensorType.shape?.dim.at(-1);
  if (!width || !("dimValue" in width)) throw new Error("model input has no fixed feature width");
  const exposed: ModelProtoObject = {
    ...model,
    graph: {
      ...model.graph,
      output: [
        ...model.graph.output,
        ...tensors.map((name) => ({ name, type: { tensorType: { elemType: DataType.FLOAT } } })),
      ],
    },
  };
  const session = await ort.InferenceSession.create(encodeModel(exposed));
  const observers = new Map(tensors.map((t) => [t, new Observer()]));
  try {
    for (const input of inputs) {
      const feed = new ort.Tensor("float32", input.x, [1, input.frames, width.dimValue]);
      const out = await session.run({ [inputName]: feed });
      for (const [name, obs] of observers) obs.observe(out[name].data as Float32Array);
    }
  } finally {
    await session.release();
  }
  return {
    tensors,
    ranges: (method) => new Map([...observers].map(([name, obs]) => [name, obs.range(method)])),
  };
}

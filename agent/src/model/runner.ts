import type * as ortTypes from "onnxruntime-node";
import { checkGraphIo, checkGraphShapes, type ReadBundleOptions, readBundle } from "./bundle.js";
import { ModelError } from "./errors.js";
import type { Manifest } from "./manifest.js";
import { UnsupportedModelError, WasmModelEngine } from "./wasm-engine.js";

/**
 * Repeats an utterance shorter than the model's receptive field until it is long enough, as the
 * trainer evaluates short clips (zeros would look like silence, which the model never saw).
 */
export function repeatToLength(
  x: Float32Array,
  frames: number,
  width: number,
  need: number,
): { x: Float32Array; frames: number } {
  if (frames >= need || frames === 0) return { x, frames };
  const out = new Float32Array(need * width);
  for (let t = 0; t < need; t++) {
    const s = t % frames;
    out.set(x.subarray(s * width, (s + 1) * width), t * width);
  }
  return { x: out, frames: need };
}

/**
 * Where the emotion model runs. "wasm": the agent's own engine (wasm-engine.ts), which leaves
 * ONNX Runtime unloaded (38 MiB less resident memory); "onnxruntime": an ONNX Runtime session;
 * "auto" (the default): wasm when the engine runs the graph, else ONNX Runtime (an LSTM model,
 * int8 activations).
 */
export type ModelRuntime = "auto" | "wasm" | "onnxruntime";
export const MODEL_RUNTIMES: readonly ModelRuntime[] = ["auto", "wasm", "onnxruntime"];

export interface RunnerOptions {
  /** ONNX Runtime intra-op threads; 1 leaves the other cores to audio capture and features. */
  threads?: number;
  runtime?: ModelRuntime;
}

/** A loaded model: the manifest's float input [1, frames, width] → its outputs by name. */
interface Engine {
  readonly runtime: "wasm" | "onnxruntime";
  run(x: Float32Array, frames: number, width: number): Promise<Map<string, Float32Array>>;
  release(): Promise<void>;
}

type Shape = readonly (number | string)[];

/** The graph's declared tensors, name → shape (older ONNX Runtimes report none). */
interface GraphIo {
  inputs: Map<string, Shape>;
  outputs: Map<string, Shape>;
  inputNames: string[];
  outputNames: string[];
}

/** GraphIo from each side's names with their declared shapes, where known. */
function graphIo(
  inputs: readonly { name: string; shape?: Shape }[],
  outputs: readonly { name: string; shape?: Shape }[],
): GraphIo {
  const shapes = (l: typeof inputs) =>
    new Map(l.flatMap((d): [string, Shape][] => (d.shape ? [[d.name, d.shape]] : [])));
  return {
    inputs: shapes(inputs),
    outputs: shapes(outputs),
    inputNames: inputs.map((d) => d.name),
    outputNames: outputs.map((d) => d.name),
  };
}

async function ortEngine(
  bytes: Uint8Array,
  manifest: Manifest,
  threads: number,
): Promise<[Engine, GraphIo]> {
  // Loaded only when a model needs it: the library and its first session are 38 MiB resident.
  const ort = await import("onnxruntime-node");
  let session: ortTypes.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
    });
  } catch (err) {
    throw new ModelError(
      "model-invalid",
      manifest.model.file,
      `ONNX Runtime cannot load the model (${(err as Error).message.split("\n")[0]}); re-export the bundle`,
    );
  }
  const declared = (
    names: readonly string[],
    meta: readonly ortTypes.InferenceSession.ValueMetadata[] | undefined,
  ) =>
    names.map((name) => {
      const m = meta?.find((v) => v.name === name);
      return m?.isTensor ? { name, shape: m.shape } : { name };
    });
  const io = graphIo(
    declared(session.inputNames, session.inputMetadata),
    declared(session.outputNames, session.outputMetadata),
  );
  const input = manifest.input.name;
  const engine: Engine = {
    runtime: "onnxruntime",
    async run(x, frames, width) {
      const out = await session.run({ [input]: new ort.Tensor("float32", x, [1, frames, width]) });
      return new Map(Object.entries(out).map(([k, t]) => [k, t.data as Float32Array]));
    },
    release: () => session.release(),
  };
  return [engine, io];
}

function wasmEngine(bytes: Uint8Array, manifest: Manifest): [Engine, GraphIo] {
  let m: WasmModelEngine;
  try {
    m = WasmModelEngine.create(bytes);
  } catch (err) {
    if (err instanceof UnsupportedModelError) throw err;
    throw new ModelError(
      "model-invalid",
      manifest.model.file,
      `the model file cannot be read (${(err as Error).message}); re-export the bundle`,
    );
  }
  const declared = (l: typeof m.inputs) =>
    l.map((v) => (v.dims ? { name: v.name, shape: v.dims } : { name: v.name }));
  const engine: Engine = {
    runtime: "wasm",
    async run(x, frames, width) {
      const out = m.run({ dims: [1, frames, width], data: x });
      return new Map([...out].map(([k, t]) => [k, t.data]));
    },
    async release() {},
  };
  return [engine, graphIo(declared(m.inputs), declared(m.outputs))];
}

/**
 * A model whose inputs and outputs have been checked against its manifest, on the configured
 * runtime. Input: normalised frames, row-major [frames, width]; output: class probabilities.
 */
export class ModelRunner {
  private constructor(
    private readonly engine: Engine,
    readonly manifest: Manifest,
    private readonly width: number,
    /** Why "auto" chose ONNX Runtime, for the log. */
    readonly fallbackReason: string | undefined,
  ) {}

  /** Where the model runs. */
  get runtime(): "wasm" | "onnxruntime" {
    return this.engine.runtime;
  }

  /** Throws ModelError "io-mismatch" when the graph does not have the manifest's I/O. */
  static async create(
    modelBytes: Uint8Array,
    manifest: Manifest,
    opts: RunnerOptions = {},
  ): Promise<ModelRunner> {
    const runtime = opts.runtime ?? "auto";
    let made: [Engine, GraphIo] | undefined;
    let fallbackReason: string | undefined;
    if (runtime !== "onnxruntime") {
      try {
        made = wasmEngine(modelBytes, manifest);
      } catch (err) {
        if (!(err instanceof UnsupportedModelError)) throw err;
        if (runtime === "wasm") {
          throw new ModelError(
            "model-invalid",
            manifest.model.file,
            `${err.message}; set inference.runtime to auto or onnxruntime for this model`,
          );
        }
        fallbackReason = err.message;
      }
    }
    made ??= await ortEngine(modelBytes, manifest, opts.threads ?? 1);
    const [engine, io] = made;
    try {
      checkGraphIo(manifest, io.inputNames, io.outputNames);
      checkGraphShapes(manifest, io.inputs, io.outputs);
    } catch (err) {
      await engine.release();
      throw err;
    }
    const width = manifest.input.shape.at(-1);
    if (typeof width !== "number") {
      await engine.release();
      throw new Error("manifest input shape must end with the feature width");
    }
    return new ModelRunner(engine, manifest, width, fallbackReason);
  }

  async probabilities(x: Float32Array, frames: number): Promise<Float32Array> {
    if (x.length !== frames * this.width) {
      throw new RangeError(`expected ${frames} x ${this.width} values, got ${x.length}`);
    }
    const padded = repeatToLength(x, frames, this.width, this.manifest.minFrames);
    const out = await this.engine.run(padded.x, padded.frames, this.width);
    const probs = out.get(this.manifest.outputs.probabilities.name);
    if (!probs) throw new Error(`the model gave no ${this.manifest.outputs.probabilities.name}`);
    return probs;
  }

  async release(): Promise<void> {
    await this.engine.release();
  }
}

/**
 * A bundle from disk, trusted only after its hash (and signature, when required) checked out and
 * its graph matched its manifest.
 */
export async function loadModel(
  dir: string,
  opts: ReadBundleOptions & RunnerOptions,
): Promise<ModelRunner> {
  const bundle = await readBundle(dir, opts);
  return ModelRunner.create(bundle.modelBytes, bundle.manifest, opts);
}

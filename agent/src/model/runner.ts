import * as ort from "onnxruntime-node";
import { checkGraphIo, checkGraphShapes, type ReadBundleOptions, readBundle } from "./bundle.js";
import { ModelError } from "./errors.js";
import type { Manifest } from "./manifest.js";

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

/** Name → declared shape of each tensor a session reports (older runtimes report none). */
function tensorShapes(
  meta: readonly ort.InferenceSession.ValueMetadata[] | undefined,
): Map<string, readonly (number | string)[]> {
  const out = new Map<string, readonly (number | string)[]>();
  for (const m of meta ?? []) if (m.isTensor) out.set(m.name, m.shape);
  return out;
}

export interface RunnerOptions {
  /** Intra-op threads; 1 leaves the other cores to audio capture and features. */
  threads?: number;
}

/**
 * One ONNX Runtime session for a model whose inputs and outputs have been checked against its
 * manifest. Input: normalised frames, row-major [frames, width]; output: class probabilities.
 */
export class ModelRunner {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly manifest: Manifest,
    private readonly width: number,
  ) {}

  /** Throws ModelError "io-mismatch" when the graph does not have the manifest's I/O. */
  static async create(
    modelBytes: Uint8Array,
    manifest: Manifest,
    opts: RunnerOptions = {},
  ): Promise<ModelRunner> {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(modelBytes, {
        intraOpNumThreads: opts.threads ?? 1,
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
    try {
      checkGraphIo(manifest, [...session.inputNames], [...session.outputNames]);
      checkGraphShapes(
        manifest,
        tensorShapes(session.inputMetadata),
        tensorShapes(session.outputMetadata),
      );
    } catch (err) {
      await session.release();
      throw err;
    }
    const width = manifest.input.shape.at(-1);
    if (typeof width !== "number") {
      await session.release();
      throw new Error("manifest input shape must end with the feature width");
    }
    return new ModelRunner(session, manifest, width);
  }

  async probabilities(x: Float32Array, frames: number): Promise<Float32Array> {
    if (x.length !== frames * this.width) {
      throw new RangeError(`expected ${frames} x ${this.width} values, got ${x.length}`);
    }
    const padded = repeatToLength(x, frames, this.width, this.manifest.minFrames);
    const feed = new ort.Tensor("float32", padded.x, [1, padded.frames, this.width]);
    const out = await this.session.run({ [this.manifest.input.name]: feed });
    const probs = out[this.manifest.outputs.probabilities.name];
    return probs.data as Float32Array;
  }

  async release(): Promise<void> {
    await this.session.release();
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

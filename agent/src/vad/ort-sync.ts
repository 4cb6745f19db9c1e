import { createRequire } from "node:module";
import type * as ort from "onnxruntime-node";

/**
 * A session of onnxruntime-node's native binding, run synchronously. The public
 * `InferenceSession.run()` defers every call with setImmediate and re-validates its feeds; for
 * Silero (a 0.1 ms model called 31 times a second in speech) that was about 13% of its CPU
 * (process CPU per call, 0.118 -> 0.102 ms, BENCHMARKS.md). This is onnxruntime-node's internal
 * API (dist/binding.js, the object its own backend wraps), so it is looked up defensively: when it
 * is missing or shaped differently, `openSyncSession` returns undefined and the caller uses the
 * public API. test/vad/detector.test.ts fails if an upgrade takes it away.
 */
export interface SyncSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  run(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor>;
  release(): void;
}

interface NativeSession {
  loadModel(path: string, options: ort.InferenceSession.SessionOptions): void;
  readonly inputMetadata: readonly { name: string }[];
  readonly outputMetadata: readonly { name: string }[];
  run(
    feeds: Record<string, ort.Tensor>,
    fetches: Record<string, null>,
    options: object,
  ): Record<string, ort.Tensor>;
  dispose(): void;
}

interface BindingModule {
  binding: { InferenceSession: new () => NativeSession };
  initOrt: () => void;
}

function bindingModule(): BindingModule | undefined {
  try {
    const m = createRequire(import.meta.url)("onnxruntime-node/dist/binding.js") as BindingModule;
    if (typeof m?.initOrt !== "function") return undefined;
    if (typeof m.binding?.InferenceSession !== "function") return undefined;
    return m;
  } catch {
    return undefined;
  }
}

/** A synchronous session for the model file, or undefined if the binding is not usable. */
export function openSyncSession(
  path: string,
  options: ort.InferenceSession.SessionOptions,
): SyncSession | undefined {
  const m = bindingModule();
  if (!m) return undefined;
  m.initOrt();
  const native = new m.binding.InferenceSession();
  if (typeof native.loadModel !== "function" || typeof native.run !== "function") return undefined;
  // A model error is the caller's to report, so it is thrown, not swallowed.
  native.loadModel(path, options);
  const inputNames = native.inputMetadata.map((meta) => meta.name);
  const outputNames = native.outputMetadata.map((meta) => meta.name);
  const fetches = Object.fromEntries(outputNames.map((n) => [n, null]));
  const noOptions = {};
  return {
    inputNames,
    outputNames,
    run: (feeds) => native.run(feeds, fetches, noOptions),
    release: () => native.dispose(),
  };
}

import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as tf from "@tensorflow/tfjs";

export type BackendName = "tensorflow" | "wasm" | "cpu";

/**
 * Picks the fastest backend that works here: tfjs-node (native TensorFlow; an optional
 * dependency that installs only where its download of libtensorflow succeeds), else the WASM
 * backend (SIMD, one thread), else the pure-JS CPU backend. `prefer` forces one.
 */
export async function initBackend(prefer?: BackendName): Promise<BackendName> {
  const require = createRequire(import.meta.url);
  const tryNode = async () => {
    try {
      // A string the bundler/type-checker does not resolve: the package is optional.
      const name = "@tensorflow/tfjs-node";
      await import(name);
      return await tf.setBackend("tensorflow");
    } catch {
      return false;
    }
  };
  const tryWasm = async () => {
    const wasm = await import("@tensorflow/tfjs-backend-wasm");
    const dist = dirname(require.resolve("@tensorflow/tfjs-backend-wasm"));
    wasm.setWasmPaths(`${join(dist)}/`);
    return tf.setBackend("wasm");
  };
  const order: BackendName[] = prefer ? [prefer] : ["tensorflow", "wasm", "cpu"];
  for (const name of order) {
    const ok =
      name === "tensorflow"
        ? await tryNode()
        : name === "wasm"
          ? await tryWasm()
          : await tf.setBackend("cpu");
    if (ok) {
      await tf.ready();
      return name;
    }
  }
  throw new Error(`tfjs backend ${prefer} is not available here`);
}

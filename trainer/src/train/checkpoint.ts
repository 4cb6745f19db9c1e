import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { type ModelSpec, parameterShapes } from "./models.js";

/**
 * Weights on disk: `<name>.bin` holds float32 values of every parameter in parameterShapes()
 * order, `<name>.json` their names and shapes. Plain and framework-free, so the ONNX exporter and
 * tests can read them without tfjs.
 */
export interface WeightsIndex {
  format: "ser-edge-weights@1";
  tensors: { name: string; shape: number[]; offset: number; length: number }[];
}

async function atomicWrite(path: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${path}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, path);
}

export async function saveWeights(
  dir: string,
  name: string,
  spec: ModelSpec,
  values: Map<string, Float32Array>,
): Promise<void> {
  await mkdir(dir, { recursive: true });
  const shapes = parameterShapes(spec);
  const total = shapes.reduce((s, [, sh]) => s + sh.reduce((a, b) => a * b, 1), 0);
  const all = new Float32Array(total);
  const index: WeightsIndex = { format: "ser-edge-weights@1", tensors: [] };
  let offset = 0;
  for (const [n, shape] of shapes) {
    const v = values.get(n);
    const length = shape.reduce((a, b) => a * b, 1);
    if (!v || v.length !== length) throw new Error(`weights for ${n} are missing or mis-sized`);
    all.set(v, offset);
    index.tensors.push({ name: n, shape, offset, length });
    offset += length;
  }
  await atomicWrite(join(dir, `${name}.bin`), new Uint8Array(all.buffer));
  await atomicWrite(join(dir, `${name}.json`), `${JSON.stringify(index, null, 1)}\n`);
}

export async function loadWeights(dir: string, name: string): Promise<Map<string, Float32Array>> {
  const index = JSON.parse(await readFile(join(dir, `${name}.json`), "utf8")) as WeightsIndex;
  if (index.format !== "ser-edge-weights@1") throw new Error(`${dir}/${name}.json: unknown format`);
  const buf = await readFile(join(dir, `${name}.bin`));
  const need = index.tensors.reduce((n, t) => Math.max(n, t.offset + t.length), 0) * 4;
  if (buf.byteLength !== need) {
    throw new Error(
      `${dir}/${name}.bin is ${buf.byteLength} bytes, its index needs ${need}: truncated or from another model`,
    );
  }
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const out = new Map<string, Float32Array>();
  for (const t of index.tensors) {
    if (t.offset + t.length > all.length) throw new Error(`${dir}/${name}.bin is truncated`);
    out.set(t.name, all.subarray(t.offset, t.offset + t.length));
  }
  return out;
}

export function toTensors(
  spec: ModelSpec,
  values: Map<string, Float32Array>,
): Map<string, tf.Tensor> {
  return new Map(
    parameterShapes(spec).map(([n, shape]) => {
      const v = values.get(n);
      if (!v) throw new Error(`weights for ${n} are missing`);
      return [n, tf.tensor(v, shape)];
    }),
  );
}

/** Adam's state (step count and moments) so a resumed run continues exactly. */
export async function saveOptimizer(dir: string, optimizer: tf.Optimizer): Promise<void> {
  const named = await optimizer.getWeights();
  const meta = named.map((t) => ({ name: t.name, shape: t.tensor.shape }));
  const arrays = await Promise.all(named.map((t) => t.tensor.data() as Promise<Float32Array>));
  const total = arrays.reduce((s, a) => s + a.length, 0);
  const all = new Float32Array(total);
  let o = 0;
  for (const a of arrays) {
    all.set(a, o);
    o += a.length;
  }
  await atomicWrite(join(dir, "optimizer.bin"), new Uint8Array(all.buffer));
  await atomicWrite(join(dir, "optimizer.json"), JSON.stringify(meta));
}

export async function loadOptimizer(dir: string): Promise<{ name: string; tensor: tf.Tensor }[]> {
  const meta = JSON.parse(await readFile(join(dir, "optimizer.json"), "utf8")) as {
    name: string;
    shape: number[];
  }[];
  const buf = await readFile(join(dir, "optimizer.bin"));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  let o = 0;
  return meta.map((m) => {
    const n = m.shape.reduce((a, b) => a * b, 1);
    const t = tf.tensor(all.subarray(o, o + n), m.shape);
    o += n;
    return { name: m.name, tensor: t };
  });
}

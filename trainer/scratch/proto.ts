// Feasibility prototype (not part of the product): TDNN on RAVDESS with tfjs WASM.
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-wasm";
import { readAudioFile } from "@ser-edge/agent/audio";
import { extractFeatures, FeatureExtractor, normalizeUtterance } from "@ser-edge/agent/features";
import { setWasmPaths } from "@tensorflow/tfjs-backend-wasm";

const ROOT = "/work/shared/data/ravdess";
const FEAT = process.env.FEAT ?? "mfcc";
const cache = `/tmp/proto-${FEAT}-${process.env.NORM === "utt" || !process.env.NORM ? "utt" : "raw"}.json`;
type Item = { x: Float32Array; frames: number; label: number; actor: number };
let items: Item[] = [];
const ex = new FeatureExtractor();
const W = FEAT === "mel" ? 64 : 40;
if (existsSync(cache)) {
  items = JSON.parse(readFileSync(cache, "utf8")).map((i: any) => ({
    ...i,
    x: Float32Array.from(i.x),
  }));
} else {
  const t0 = performance.now();
  for (const a of readdirSync(ROOT).sort())
    for (const f of readdirSync(join(ROOT, a)).sort()) {
      const p = f.split(".")[0].split("-");
      const audio = await readAudioFile(join(ROOT, a, f));
      const feats = extractFeatures(audio.samples, ex);
      const m = FEAT === "mel" ? feats.melDb : feats.mfcc;
      items.push({
        x: process.env.NORM && process.env.NORM !== "utt" ? m.slice() : normalizeUtterance(m, W),
        frames: feats.frames,
        label: Number(p[2]) - 1,
        actor: Number(p[6]),
      });
    }
  console.log("features", (performance.now() - t0).toFixed(0), "ms");
  if (FEAT !== "mel")
    writeFileSync(cache, JSON.stringify(items.map((i) => ({ ...i, x: Array.from(i.x) }))));
}
setWasmPaths(join(process.cwd(), "node_modules/@tensorflow/tfjs-backend-wasm/dist/"));
if (process.env.THREADS)
  (await import("@tensorflow/tfjs-backend-wasm")).setThreadsCount(Number(process.env.THREADS));
await tf.setBackend(process.env.BACKEND ?? "wasm");
await tf.ready();
console.log("backend", tf.getBackend(), (tf.backend() as any).wasm?._get_threads_count?.());
const POOL = Number(process.env.POOL ?? 1);
if (POOL > 1)
  items = items.map((i) => {
    const f = Math.floor(i.frames / POOL);
    const x = new Float32Array(f * W);
    for (let t = 0; t < f; t++)
      for (let p = 0; p < POOL; p++)
        for (let c = 0; c < W; c++) x[t * W + c] += i.x[(t * POOL + p) * W + c] / POOL;
    return { ...i, x, frames: f };
  });
if (process.env.NORM === "global") {
  const tr = items.filter((i) => i.actor <= 16);
  const mean = new Float64Array(W),
    sq = new Float64Array(W);
  let n = 0;
  for (const i of tr)
    for (let t = 0; t < i.frames; t++) {
      n++;
      for (let c = 0; c < W; c++) {
        const v = i.x[t * W + c];
        mean[c] += v;
        sq[c] += v * v;
      }
    }
  for (let c = 0; c < W; c++) {
    mean[c] /= n;
    sq[c] = Math.sqrt(sq[c] / n - mean[c] ** 2);
  }
  items = items.map((i) => {
    const x = new Float32Array(i.x.length);
    for (let k = 0; k < x.length; k++) x[k] = (i.x[k] - mean[k % W]) / sq[k % W];
    return { ...i, x };
  });
}
if (process.env.NORM === "speaker") {
  const byActor = new Map<number, Item[]>();
  for (const i of items) byActor.set(i.actor, [...(byActor.get(i.actor) ?? []), i]);
  const out: Item[] = [];
  for (const [, group] of byActor) {
    const mean = new Float64Array(W),
      sq = new Float64Array(W);
    let n = 0;
    for (const i of group)
      for (let t = 0; t < i.frames; t++) {
        n++;
        for (let c = 0; c < W; c++) {
          const v = i.x[t * W + c];
          mean[c] += v;
          sq[c] += v * v;
        }
      }
    for (let c = 0; c < W; c++) {
      mean[c] /= n;
      sq[c] = Math.sqrt(sq[c] / n - mean[c] ** 2);
    }
    for (const i of group) {
      const x = new Float32Array(i.x.length);
      for (let k = 0; k < x.length; k++) x[k] = (i.x[k] - mean[k % W]) / sq[k % W];
      out.push({ ...i, x });
    }
  }
  items = out;
}
const train = items.filter((i) => i.actor <= 16);
const val = items.filter((i) => i.actor > 16);
const T = Math.round(300 / POOL); // 3 s crops
const H = Number(process.env.H ?? 128);
function glorot(i: number, o: number) {
  return tf.variable(tf.randomNormal([i, o], 0, Math.sqrt(2 / (i + o))));
}
const ctx = [[-2, -1, 0, 1, 2], [-2, 0, 2], [-3, 0, 3], [0]];
const dims = [W, H, H, H, 2 * H];
const Ws = ctx.map((c, l) => glorot(dims[l] * c.length, dims[l + 1]));
const Bs = ctx.map((_, l) => tf.variable(tf.zeros([dims[l + 1]])));
const D1 = glorot(4 * H, H),
  b1 = tf.variable(tf.zeros([H]));
const D2 = glorot(H, 8),
  b2 = tf.variable(tf.zeros([8]));
const vars = [...Ws, ...Bs, D1, b1, D2, b2];
console.log(
  "params",
  vars.reduce((s, v) => s + v.size, 0),
);
function forward(x: tf.Tensor3D, training: boolean): tf.Tensor2D {
  let h: tf.Tensor3D = x;
  for (let l = 0; l < ctx.length; l++) {
    const c = ctx[l];
    const lo = -Math.min(...c),
      hi = Math.max(...c);
    const [B, Tn, C] = h.shape;
    const To = Tn - lo - hi;
    const parts = c.map((o) => tf.slice(h, [0, lo + o, 0], [B, To, C]));
    const cat = parts.length > 1 ? tf.concat(parts, 2) : parts[0];
    let y = tf.add(tf.matMul(tf.reshape(cat, [B * To, C * c.length]), Ws[l]), Bs[l]);
    y = tf.relu(y);
    // per-layer normalisation over features (layer norm-ish) for stability
    const { mean, variance } = tf.moments(y, [1], true);
    y = tf.div(tf.sub(y, mean), tf.sqrt(tf.add(variance, 1e-5)));
    h = tf.reshape(y, [B, To, dims[l + 1]]) as tf.Tensor3D;
  }
  const { mean, variance } = tf.moments(h, [1]);
  const pooled = tf.concat([mean, tf.sqrt(tf.add(variance, 1e-5))], 1);
  let z = tf.relu(tf.add(tf.matMul(pooled, D1), b1));
  if (training) z = tf.dropout(z, 0.3);
  return tf.add(tf.matMul(z, D2), b2) as tf.Tensor2D;
}
function crop(i: Item, rnd: boolean): Float32Array {
  const out = new Float32Array(T * W);
  if (i.frames >= T) {
    const s = rnd ? Math.floor(Math.random() * (i.frames - T + 1)) : Math.floor((i.frames - T) / 2);
    out.set(i.x.subarray(s * W, (s + T) * W));
  } else {
    for (let t = 0; t < T; t++)
      out.set(i.x.subarray((t % i.frames) * W, ((t % i.frames) + 1) * W), t * W);
  }
  return out;
}
const opt = tf.train.adam(Number(process.env.LR ?? 1e-3));
const BS = 32;
const EPOCHS = Number(process.env.EPOCHS ?? 10);
for (let e = 0; e < EPOCHS; e++) {
  const t0 = performance.now();
  const order = train.map((_, i) => i).sort(() => Math.random() - 0.5);
  let lossSum = 0,
    nb = 0;
  for (let b = 0; b < order.length; b += BS) {
    const batch = order.slice(b, b + BS).map((i) => train[i]);
    const xb = new Float32Array(batch.length * T * W);
    batch.forEach((it, j) => xb.set(crop(it, true), j * T * W));
    const x = tf.tensor3d(xb, [batch.length, T, W]);
    const y = tf.oneHot(
      tf.tensor1d(
        batch.map((i) => i.label),
        "int32",
      ),
      8,
    );
    const loss = opt.minimize(
      () => tf.losses.softmaxCrossEntropy(y, forward(x, true)) as tf.Scalar,
      true,
      vars,
    ) as tf.Scalar;
    lossSum += (await loss.data())[0];
    nb++;
    tf.dispose([x, y, loss]);
  }
  // eval on val, full length one at a time
  const conf = Array.from({ length: 8 }, () => new Array(8).fill(0));
  for (const it of val) {
    const p = tf.tidy(() => tf.argMax(forward(tf.tensor3d(it.x, [1, it.frames, W]), false), 1));
    conf[it.label][(await p.data())[0]]++;
    p.dispose();
  }
  const recall = conf.map((r, i) => r[i] / r.reduce((s, v) => s + v, 0));
  const uar = recall.reduce((s, v) => s + v, 0) / 8;
  console.log(
    `epoch ${e} loss ${(lossSum / nb).toFixed(3)} UAR ${(uar * 100).toFixed(1)} time ${((performance.now() - t0) / 1000).toFixed(1)}s tensors ${tf.memory().numTensors}`,
  );
}

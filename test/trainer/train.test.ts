import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { encodeWav } from "@ser-edge/agent/audio";
import * as tf from "@tensorflow/tfjs";
import { createRng } from "../../trainer/src/augment/index.js";
import { main as trainerMain } from "../../trainer/src/cli.js";
import { initBackend } from "../../trainer/src/train/backend.js";
import { classWeights, cropFrames, mixBatch } from "../../trainer/src/train/batches.js";
import { FeatureCache } from "../../trainer/src/train/cache.js";
import { loadWeights, saveWeights } from "../../trainer/src/train/checkpoint.js";
import { learningRate, trainLoop } from "../../trainer/src/train/loop.js";
import {
  ARCH_DEFAULTS,
  ARCHS,
  forward,
  initParams,
  type ModelSpec,
  minFrames,
  parameterCount,
} from "../../trainer/src/train/models.js";
import { makeCorpus } from "../helpers/corpus.js";

before(async () => {
  await initBackend("wasm");
});

const spec = (arch: (typeof ARCHS)[number]): ModelSpec => ({
  ...ARCH_DEFAULTS[arch],
  inputDim: 40,
  classes: 8,
});

describe("models", () => {
  it("every architecture maps any length to class logits, and the default fits a Pi", () => {
    for (const arch of ARCHS) {
      const s = spec(arch);
      const p = initParams(s, 1);
      for (const frames of [minFrames(s), 157, 300]) {
        const y = tf.tidy(() =>
          forward(s, p, tf.randomNormal([2, frames, 40]) as tf.Tensor3D, { training: false }),
        );
        assert.deepEqual(y.shape, [2, 8], `${arch} at ${frames} frames`);
        y.dispose();
      }
      tf.dispose([...p.values()]);
    }
    assert.ok(parameterCount(spec("tdnn")) < 300_000, `${parameterCount(spec("tdnn"))} parameters`);
  });

  it("attentive pooling works for every frame-level model and reduces to stats pooling at uniform attention", () => {
    for (const arch of ["tdnn", "cnn1d", "lstm"] as const) {
      const plain = spec(arch);
      const att: ModelSpec = { ...plain, pooling: "attentive" };
      const p = initParams(att, 3);
      const x = tf.randomNormal([2, 90, 40], 0, 1, "float32", 5) as tf.Tensor3D;
      const ya = forward(att, p, x, { training: false });
      assert.deepEqual(ya.shape, [2, 8]);
      // A zero scoring vector gives every frame the same weight: the plain mean and std.
      p.get("attend/v")?.assign(tf.zeros([64, 1]));
      const uniform = forward(att, p, x, { training: false }).dataSync();
      const stats = forward(plain, p, x, { training: false }).dataSync();
      const diff = Math.max(...uniform.map((v, i) => Math.abs(v - stats[i])));
      assert.ok(diff < 1e-4, `${arch}: ${diff}`);
      assert.ok(
        Math.max(...ya.dataSync().map((v, i) => Math.abs(v - stats[i]))) > 1e-4,
        `${arch}: learned attention changes the output`,
      );
      assert.ok(parameterCount(att) > parameterCount(plain));
      tf.dispose([...p.values(), x, ya]);
    }
    assert.ok(parameterCount({ ...spec("tdnn"), pooling: "attentive" }) < 300_000);
  });

  it("is deterministic for a seed, and dropout only acts in training", () => {
    const s = spec("tdnn");
    const a = initParams(s, 7);
    const b = initParams(s, 7);
    const x = tf.randomNormal([1, 120, 40], 0, 1, "float32", 3) as tf.Tensor3D;
    const ya = forward(s, a, x, { training: false }).dataSync();
    const yb = forward(s, b, x, { training: false }).dataSync();
    assert.deepEqual(ya, yb);
    const t1 = forward(s, a, x, { training: true, seed: 1 }).dataSync();
    const t2 = forward(s, a, x, { training: true, seed: 2 }).dataSync();
    assert.notDeepEqual(t1, t2);
  });
});

/** Eight 10-frame examples of two separable classes for a tiny MLP, and their crops. */
function tinyTask(seed: number) {
  const spec = { ...ARCH_DEFAULTS.mlp, hidden: 8, inputDim: 4, classes: 2 };
  const rng = createRng(seed);
  const train = Array.from({ length: 8 }, (_, i) => ({
    x: Float32Array.from({ length: 40 }, () => rng.uniform() + (i % 2)),
    frames: 10,
    label: i % 2,
    id: `e${i}`,
  }));
  const crops = new Float32Array(8 * 10 * 4);
  for (const [i, e] of train.entries()) crops.set(e.x, i * 40);
  return { spec, train, crops };
}

describe("training pieces", () => {
  it("weight averaging returns the mean of the last epochs' weights and never stops early", async () => {
    const { spec, train, crops } = tinyTask(5);
    const seen: Map<string, Float32Array>[] = [];
    const cfg = {
      epochs: 4,
      batchSize: 4,
      lr: 0.05,
      warmupEpochs: 0,
      lrFloor: 0.1,
      patience: 1,
      crop: 10,
      classBalanced: true,
      seed: 3,
      swa: 0.5,
    };
    const result = await trainLoop(
      spec,
      cfg,
      train,
      train.slice(0, 2),
      ["a", "b"],
      async () => crops,
      {
        onEpoch: async (_state, params) => {
          seen.push(
            new Map([...params].map(([k, v]) => [k, v.dataSync().slice() as Float32Array])),
          );
        },
      },
    );
    assert.equal(seen.length, 4, "patience 1 does not stop a weight-averaging run");
    for (const [k, v] of result.best) {
      const a = seen[2].get(k) as Float32Array;
      const b = seen[3].get(k) as Float32Array;
      for (const [i, x] of v.entries()) assert.ok(Math.abs(x - (a[i] + b[i]) / 2) < 1e-6, k);
      assert.ok(
        v.some((x, i) => Math.abs(x - b[i]) > 1e-6),
        `${k} differs from the last epoch`,
      );
    }
    tf.dispose([...result.params.values()]);
  });

  it("mixup blends inputs, targets and weights with the partner example", () => {
    const batch = {
      x: Float32Array.from([1, 2, 3, 10, 20, 30]), // 2 examples x 3 values
      y: Float32Array.from([1, 0, 0, 1]),
      w: Float32Array.from([0.5, 2]),
    };
    const mixed = mixBatch(batch, [1, 0], 0.75);
    const close = (a: Float32Array, b: number[]) => {
      for (const [i, v] of b.entries()) {
        assert.ok(Math.abs(a[i] - v) < 1e-6, `${Array.from(a)} vs ${b}`);
      }
    };
    close(mixed.x, [3.25, 6.5, 9.75, 7.75, 15.5, 23.25]);
    close(mixed.y, [0.75, 0.25, 0.25, 0.75]);
    close(mixed.w, [0.875, 1.625]);
    close(batch.x, [1, 2, 3, 10, 20, 30]); // the input batch is untouched
    // Targets stay distributions.
    for (let i = 0; i < 2; i++) assert.ok(Math.abs(mixed.y[2 * i] + mixed.y[2 * i + 1] - 1) < 1e-6);
  });

  it("mixup, label smoothing and weight decay change training, and are deterministic", async () => {
    const { spec, train, crops } = tinyTask(11);
    const base = {
      epochs: 3,
      batchSize: 4,
      lr: 0.05,
      warmupEpochs: 0,
      lrFloor: 0.1,
      patience: 5,
      crop: 10,
      classBalanced: true,
      seed: 3,
    };
    const run = async (extra: object) => {
      const r = await trainLoop(
        spec,
        { ...base, ...extra },
        train,
        [],
        ["a", "b"],
        async () => crops,
      );
      tf.dispose([...r.params.values()]);
      return r.best;
    };
    const plain = await run({});
    const norm = (m: Map<string, Float32Array>) =>
      Math.hypot(...[...m].filter(([k]) => k.endsWith("/w")).flatMap(([, v]) => Array.from(v)));
    for (const extra of [{ mixup: 0.4 }, { labelSmoothing: 0.1 }, { weightDecay: 0.5 }]) {
      const a = await run(extra);
      const b = await run(extra);
      assert.deepEqual(a, b, `${JSON.stringify(extra)} is deterministic for a seed`);
      assert.notDeepEqual(a, plain, `${JSON.stringify(extra)} changes the weights`);
    }
    const decayed = await run({ weightDecay: 0.5 });
    assert.ok(norm(decayed) < norm(plain), "weight decay shrinks the weight matrices");
    for (const [k, v] of decayed) {
      if (k.endsWith("/b")) assert.equal(v.length, (plain.get(k) as Float32Array).length);
    }
  });

  it("Beta draws for mixup have the right mean and spread", () => {
    const r = createRng(4);
    const N = 20000;
    let sum = 0;
    let sum2 = 0;
    for (let i = 0; i < N; i++) {
      const b = r.beta(0.4, 0.4);
      assert.ok(b >= 0 && b <= 1);
      sum += b;
      sum2 += b * b;
    }
    const mean = sum / N;
    const variance = sum2 / N - mean * mean;
    // Beta(a, a): mean 1/2, variance 1 / (4 (2a + 1)) = 0.1389 for a = 0.4.
    assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1 / (4 * 1.8)) < 0.005, `variance ${variance}`);
    let g = 0;
    for (let i = 0; i < N; i++) g += r.gamma(3);
    assert.ok(Math.abs(g / N - 3) < 0.05, `gamma(3) mean ${g / N}`);
  });

  it("class weights balance the loss", () => {
    const w = classWeights([0, 0, 0, 1], 3);
    assert.deepEqual(w, [4 / 6, 2, 0]);
  });

  it("crops long utterances and repeats short ones", () => {
    const x = Float32Array.from({ length: 10 }, (_, i) => i); // 5 frames x 2
    assert.deepEqual(
      Array.from(cropFrames(x, 5, 2, 7, null)),
      [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3],
    );
    const c = cropFrames(x, 5, 2, 3, createRng(1));
    assert.equal(c.length, 6);
    assert.equal(c[1] - c[0], 1);
  });

  it("warms up, then decays the learning rate", () => {
    const cfg = { epochs: 20, lr: 1e-3, warmupEpochs: 2, lrFloor: 0.05 } as Parameters<
      typeof learningRate
    >[0];
    assert.ok(learningRate(cfg, 0) < learningRate(cfg, 1));
    assert.ok(Math.abs(learningRate(cfg, 2) - 1e-3) < 1e-12);
    assert.ok(learningRate(cfg, 19) < 1e-4);
  });

  it("weights survive a save/load round trip", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ser-w-"));
    const s = spec("mlp");
    const p = initParams(s, 3);
    const values = new Map([...p].map(([k, v]) => [k, v.dataSync() as Float32Array]));
    await saveWeights(dir, "w", s, values);
    const back = await loadWeights(dir, "w");
    for (const [k, v] of values) assert.deepEqual(back.get(k), v);
    writeFileSync(join(dir, "w.bin"), new Uint8Array(10));
    await assert.rejects(loadWeights(dir, "w"), /is 10 bytes, its index needs \d+: truncated/);
  });

  it("the feature cache skips the work on a second run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ser-cache-"));
    const wav = join(dir, "a.wav");
    writeFileSync(wav, encodeWav(new Float32Array(8000).fill(0.1), 16000));
    const cache = new FeatureCache(join(dir, "cache"));
    const { hash, samples } = await cache.audio(wav, 16000);
    assert.equal(samples.length, 8000);
    let computed = 0;
    const compute = () => {
      computed++;
      return Float32Array.of(1, 2, 3);
    };
    const params = (await import("@ser-edge/agent/features")).resolveFeatureParams();
    await cache.features(hash, params, "mfcc", compute);
    const again = await cache.features(hash, params, "mfcc", compute);
    assert.equal(computed, 1);
    assert.deepEqual(Array.from(again), [1, 2, 3]);
    await cache.features(hash, { ...params, nMfcc: 20 }, "mfcc", compute);
    assert.equal(computed, 2, "other parameters are another entry");
  });
});

describe("ser-trainer train, end to end", () => {
  it("trains, early-stops, reports, and resumes from its checkpoint", async () => {
    const root = mkdtempSync(join(tmpdir(), "ser-train-"));
    makeCorpus(join(root, "data"));
    const out = join(root, "run");
    const io = { out: () => {}, err: () => {} };
    const common = [
      "train",
      join(root, "data"),
      "--val-speakers",
      "generic:s4",
      "--arch",
      "tdnn",
      "--hidden",
      "16",
      "--crop",
      "60",
      "--batch",
      "8",
      "--lr",
      "0.01",
      "--no-augment",
      "--backend",
      "wasm",
      "--cache",
      join(root, "cache"),
      "--out",
      out,
    ];
    assert.equal(await trainerMain([...common, "--epochs", "3"], io), 0);
    const first = JSON.parse(readFileSync(join(out, "checkpoint/state.json"), "utf8"));
    assert.equal(first.history.length, 3);
    assert.equal(await trainerMain([...common, "--epochs", "6", "--resume"], io), 0);
    const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    assert.equal(metrics.history.length, 6, "resumed run continues the same history");
    assert.deepEqual(metrics.history.slice(0, 3), first.history);
    const val = metrics.sets.find((s: { name: string }) => s.name === "validation");
    assert.ok(val.metrics.uar >= 0.9, `validation UAR ${val.metrics.uar}`);
    for (const f of ["report.html", "model.json", "weights.bin", "split.json", "config.json"]) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const split = JSON.parse(readFileSync(join(out, "split.json"), "utf8"));
    assert.ok(JSON.stringify(split).includes("generic:s4"));
  });
});

describe("ser-trainer train: k-fold and cross-corpus", () => {
  const io = { out: () => {}, err: () => {} };
  const fast = ["--hidden", "8", "--crop", "40", "--batch", "8", "--epochs", "2", "--no-augment"];

  it("k-fold validates every speaker exactly once and summarises the folds", async () => {
    const root = mkdtempSync(join(tmpdir(), "ser-kfold-"));
    makeCorpus(join(root, "data"));
    const out = join(root, "run");
    const args = ["train", join(root, "data"), "--kfold", "2", ...fast];
    const code = await trainerMain([...args, "--cache", join(root, "c"), "--out", out], io);
    assert.equal(code, 0);
    const summary = JSON.parse(readFileSync(join(out, "kfold.json"), "utf8"));
    assert.equal(summary.folds, 2);
    assert.equal(summary.validationUar.length, 2);
    const validated: string[] = [];
    for (const fold of [1, 2]) {
      const split = JSON.parse(readFileSync(join(out, `fold-${fold}`, "split.json"), "utf8"));
      const text = JSON.stringify(split.sets?.validation ?? split.validation ?? split);
      for (const s of ["generic:s1", "generic:s2", "generic:s3", "generic:s4"]) {
        if (text.includes(`"${s}"`)) validated.push(s);
      }
    }
    assert.deepEqual(validated.sort(), ["generic:s1", "generic:s2", "generic:s3", "generic:s4"]);
  });

  it("cross-corpus: trains on one corpus and tests on another over the shared labels", async () => {
    const root = mkdtempSync(join(tmpdir(), "ser-xcorpus-"));
    makeCorpus(join(root, "generic"));
    // A RAVDESS-named corpus with happy (03), sad (04) and angry (05, unknown to the other corpus).
    const rav = join(root, "ravdess");
    mkdirSync(rav);
    const sr = 16000;
    for (const [code, f0, amp] of [
      ["03", 320, 0.3],
      ["04", 140, 0.08],
      ["05", 500, 0.5],
    ] as const) {
      for (const actor of ["01", "02"]) {
        for (const rep of ["01", "02"]) {
          const x = new Float32Array(sr);
          for (let i = 0; i < sr; i++) x[i] = amp * Math.sin((2 * Math.PI * f0 * i) / sr);
          writeFileSync(join(rav, `03-01-${code}-01-01-${rep}-${actor}.wav`), encodeWav(x, sr));
        }
      }
    }
    const out = join(root, "run");
    const code = await trainerMain(
      [
        "train",
        join(root, "generic"),
        rav,
        "--test-corpus",
        "ravdess",
        "--val-speakers",
        "generic:s4",
        ...fast,
        "--cache",
        join(root, "c"),
        "--out",
        out,
      ],
      io,
    );
    assert.equal(code, 0);
    const metrics = JSON.parse(readFileSync(join(out, "metrics.json"), "utf8"));
    const test = metrics.sets.find((s: { name: string }) => s.name === "test");
    assert.ok(test, "a test set was evaluated");
    assert.deepEqual(test.metrics.labels, ["happy", "sad"]);
    assert.equal(test.metrics.n, 8, "angry clips are dropped: the training corpus has no angry");
  });
});

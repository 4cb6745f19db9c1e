import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import type { Manifest } from "@ser-edge/agent/model";
import { main as trainerMain } from "../../trainer/src/cli.js";
import { makeCorpus } from "../helpers/corpus.js";

function capture() {
  const out: string[] = [];
  const err: string[] = [];
  return {
    io: { out: (t: string) => void out.push(t), err: (t: string) => void err.push(t) },
    out: () => out.join(""),
    err: () => err.join(""),
  };
}

const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

/**
 * The trainer's path to a shippable model on a small synthetic corpus: a held-out run, its int8
 * bundle; a final run on every speaker, its bundle carrying the held-out metrics; signing.
 */
describe("ser-trainer export, end to end", () => {
  const root = mkdtempSync(join(tmpdir(), "ser-export-"));
  const data = join(root, "data");
  const cache = join(root, "cache");
  const heldOut = join(root, "run-heldout");
  const final = join(root, "run-final");
  const common = [
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
    cache,
  ];
  const quiet = { out: () => {}, err: () => {} };

  before(async () => {
    makeCorpus(data);
    const a = ["train", data, "--val-speakers", "generic:s4", "--epochs", "4", ...common];
    assert.equal(await trainerMain([...a, "--out", heldOut], quiet), 0);
    const b = ["train", data, "--val-speakers", "none", "--epochs", "3", ...common];
    assert.equal(await trainerMain([...b, "--out", final], quiet), 0);
  });

  it("exports an int8 bundle whose fp32 twin reproduces the run and whose manifest is complete", async () => {
    const bundle = join(root, "bundle-heldout");
    const c = capture();
    const code = await trainerMain(
      [
        "export",
        heldOut,
        "--out",
        bundle,
        "--version",
        "1.2.3",
        "--cache",
        cache,
        "--calibration-clips",
        "16",
      ],
      c.io,
    );
    assert.equal(code, 0, c.err());
    // The fp32 ONNX model, run by the agent's runner, scores the validation set as tfjs did.
    const exported = JSON.parse(readFileSync(join(heldOut, "export-int8.json"), "utf8"));
    assert.ok(Math.abs(exported.fp32Uar - exported.tfjsUar) < 1e-9, c.err());
    assert.equal(exported.trials.length, 4, "auto tries every calibration method");
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8")) as Manifest;
    assert.equal(m.version, "1.2.3");
    assert.deepEqual(m.labels, ["happy", "sad"]);
    assert.equal(m.quantization.kind, "static-int8-qdq");
    assert.ok(m.quantization.calibration?.method, "the chosen calibration is recorded");
    assert.equal(m.quantization.fp32Uar, exported.fp32Uar);
    assert.ok(m.metrics.validation && m.metrics.validation.clips === 12);
    assert.deepEqual(m.training.splits.validation?.speakers, ["generic:s4"]);
    assert.match(m.training.command, /ser-trainer train .*--val-speakers generic:s4/);
    assert.equal(m.normalization.mean.length, 40);
    assert.equal(m.reference.length, 3);
    // A 16-wide toy model is mostly fixed overhead; the <= 30% target is tested on the default
    // architecture in onnx.test.ts.
    assert.ok(
      m.model.bytes < 0.6 * exported.fp32Bytes,
      `${m.model.bytes} vs ${exported.fp32Bytes}`,
    );
    assert.equal(statSync(join(bundle, "model.onnx")).size, m.model.bytes);
    execFileSync(python, [
      "-c",
      "import sys, onnx; onnx.checker.check_model(onnx.load(sys.argv[1]), full_check=True)",
      join(bundle, "model.onnx"),
    ]);
  });

  it("evaluate, through the device pipeline on whole files, reproduces the exported metrics", async () => {
    const bundle = join(root, "bundle-heldout");
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8")) as Manifest;
    const c = capture();
    const json = join(root, "evaluate.json");
    const args = [
      "evaluate",
      bundle,
      data,
      "--speakers",
      "generic:s4",
      "--no-trim",
      "--json",
      json,
    ];
    assert.equal(await trainerMain(args, c.io), 0, c.err());
    const got = JSON.parse(readFileSync(json, "utf8"));
    assert.equal(got.n, 12);
    assert.deepEqual(got.confusion, m.metrics.validation?.confusion);
    assert.equal(got.uar, m.metrics.validation?.uar);
  });

  it("a final model on every speaker carries the held-out run's metrics, and gets signed", async () => {
    const heldBundle = join(root, "bundle-heldout");
    const bundle = join(root, "bundle-final");
    const refuse = capture();
    assert.equal(
      await trainerMain(["export", final, "--out", bundle, "--cache", cache], refuse.io),
      1,
      "auto calibration needs a validation set",
    );
    assert.match(refuse.err(), /no validation set/);
    const c = capture();
    const code = await trainerMain(
      [
        "export",
        final,
        "--out",
        bundle,
        "--cache",
        cache,
        "--calibration",
        "minmax",
        "--metrics-from",
        heldBundle,
      ],
      c.io,
    );
    assert.equal(code, 0, c.err());
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8")) as Manifest;
    const held = JSON.parse(readFileSync(join(heldBundle, "manifest.json"), "utf8")) as Manifest;
    assert.equal(m.training.splits.train.speakers.length, 4);
    assert.equal(m.training.splits.validation, undefined);
    assert.equal(m.training.epochs, 3);
    assert.deepEqual(m.metrics.validation, held.metrics.validation);
    assert.match(m.metrics.note ?? "", /generic:s4/);

    const key = join(root, "release");
    assert.equal(await trainerMain(["keygen", "--out", key], quiet), 0);
    assert.equal(statSync(`${key}.key`).mode & 0o777, 0o600);
    assert.equal(await trainerMain(["sign", bundle, "--key", `${key}.key`], quiet), 0);
    const v = capture();
    assert.equal(await trainerMain(["verify", bundle, "--key", `${key}.pub`], v.io), 0, v.err());
    assert.match(v.out(), /^OK .*signed by [0-9a-f]{16}/);
    // A changed label after signing is caught.
    const signed = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8"));
    signed.labels = ["sad", "happy"];
    writeFileSync(join(bundle, "manifest.json"), JSON.stringify(signed));
    const bad = capture();
    assert.equal(await trainerMain(["verify", bundle, "--key", `${key}.pub`], bad.io), 1);
    assert.match(bad.err(), /signature/);
  });

  it("a final model needs a fixed epoch count, and the default recipe needs its corpus", async () => {
    const c = capture();
    const args = ["train", data, "--val-speakers", "none", "--cache", cache];
    assert.equal(await trainerMain(args, c.io), 2);
    assert.match(c.err(), /--val-speakers none trains a fixed number of epochs: give --epochs N/);
    const d = capture();
    assert.equal(await trainerMain(["default-model"], d.io), 2);
    assert.match(d.err(), /--data DIR/);
  });

  it("a model trained on VAD-trimmed clips says so, and evaluate/classify trim for it by default", async () => {
    const run = join(root, "run-trim");
    const a = ["train", data, "--val-speakers", "generic:s4", "--epochs", "2", "--trim", ...common];
    assert.equal(await trainerMain([...a, "--out", run], quiet), 0);
    const bundle = join(root, "bundle-trim");
    const e = capture();
    const exp = ["export", run, "--out", bundle, "--cache", cache, "--calibration", "minmax"];
    assert.equal(await trainerMain(exp, e.io), 0, e.err());
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8")) as Manifest;
    assert.deepEqual(m.preprocessing, { vadTrim: true });
    const byDefault = capture();
    const forced = capture();
    const args = ["evaluate", bundle, data, "--speakers", "generic:s4"];
    assert.equal(await trainerMain(args, byDefault.io), 0, byDefault.err());
    assert.equal(await trainerMain([...args, "--trim"], forced.io), 0, forced.err());
    assert.match(byDefault.out(), /VAD-trimmed/);
    assert.equal(byDefault.out(), forced.out());
  });

  it("a model on MFCC + pitch: the device pipeline scores it exactly as the trainer did", async () => {
    const run = join(root, "run-pitch");
    const a = ["train", data, "--val-speakers", "generic:s4", "--epochs", "2", ...common];
    assert.equal(
      await trainerMain([...a, "--representation", "mfcc+pitch", "--out", run], quiet),
      0,
    );
    const bundle = join(root, "bundle-pitch");
    const e = capture();
    const exp = ["export", run, "--out", bundle, "--cache", cache, "--calibration", "minmax"];
    assert.equal(await trainerMain(exp, e.io), 0, e.err());
    const m = JSON.parse(readFileSync(join(bundle, "manifest.json"), "utf8")) as Manifest;
    assert.equal(m.representation, "mfcc+pitch");
    assert.deepEqual(m.input.shape.at(-1), 42);
    assert.equal(m.normalization.mean.length, 42);
    const exported = JSON.parse(readFileSync(join(run, "export-int8.json"), "utf8"));
    assert.ok(Math.abs(exported.fp32Uar - exported.tfjsUar) < 1e-9, e.err());
    // The agent's features (modelInput) against the trainer's, through the int8 model.
    const c = capture();
    const json = join(root, "evaluate-pitch.json");
    const args = ["evaluate", bundle, data, "--speakers", "generic:s4", "--no-trim"];
    assert.equal(await trainerMain([...args, "--json", json], c.io), 0, c.err());
    const got = JSON.parse(readFileSync(json, "utf8"));
    assert.deepEqual(got.confusion, m.metrics.validation?.confusion);
  });

  it("says what is wrong with a directory that is not a run", async () => {
    const c = capture();
    assert.equal(await trainerMain(["export", root, "--out", join(root, "x")], c.io), 1);
    assert.match(c.err(), /model\.json: missing; is this a finished `ser-trainer train` run/);
  });
});

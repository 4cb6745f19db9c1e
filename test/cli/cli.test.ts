import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { main as agentMain } from "../../agent/src/cli.js";
import { main as trainerMain } from "../../trainer/src/cli.js";
import { FIXTURES, maxAbsError, readGolden } from "../helpers/golden.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const NEUTRAL = fileURLToPath(new URL("audio/03-01-01-01-01-01-01.flac", FIXTURES));

async function run(main: typeof agentMain, argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("ser-trainer features", () => {
  it("--json prints librosa-layout matrices that match the golden", async () => {
    const r = await run(trainerMain, ["features", NEUTRAL, "--json"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.sr, 16000);
    assert.equal(j.params.n_mfcc, 40);
    assert.equal(j.params.hop_length, 160);
    assert.equal(j.mfcc.length, 40);
    assert.equal(j.mel_db.length, 64);
    const g = readGolden("ravdess_a01_neutral");
    assert.equal(j.mfcc[0].length, g.shape.frames);
    // Back to frame-major to reuse the comparison helper.
    const frameMajor = new Float32Array(40 * g.shape.frames);
    j.mfcc.forEach((row: number[], c: number) => {
      row.forEach((v, t) => {
        frameMajor[t * 40 + c] = v;
      });
    });
    assert.ok(maxAbsError(frameMajor, g.mfcc) <= 2e-3);
  });

  it("honours the feature options", async () => {
    const r = await run(trainerMain, [
      "features",
      NEUTRAL,
      "--n-mfcc",
      "13",
      "--n-mels",
      "40",
      "--hop",
      "320",
      "--json",
    ]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.mfcc.length, 13);
    assert.equal(j.mel_db.length, 40);
    assert.equal(j.mfcc[0].length, 1 + Math.floor(52853 / 320));
  });

  it("explains bad options and bad files", async () => {
    let r = await run(trainerMain, ["features", NEUTRAL, "--n-mfcc", "forty"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /--n-mfcc expects an integer, got "forty"/);
    r = await run(trainerMain, ["features", NEUTRAL, "--n-fft", "500"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /nFft must be a power of two/);
    r = await run(trainerMain, ["features", "/no/such/file.wav"]);
    assert.equal(r.code, 1);
    assert.match(r.err, /\/no\/such\/file\.wav: file not found/);
    r = await run(trainerMain, ["features", NEUTRAL, "--bogus"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /Unknown option '--bogus'/);
  });
});

describe("ser-trainer parity", () => {
  it("passes on a golden with stored samples and fails on a doctored one", async () => {
    const golden = fileURLToPath(new URL("golden/sine440.json", FIXTURES));
    let r = await run(trainerMain, ["parity", golden]);
    assert.equal(r.code, 0, r.out + r.err);
    assert.equal(r.out.trim().split("\n").length, 5);
    const g = readGolden("sine440") as unknown as { mfcc: number[][] };
    g.mfcc[3][50] += 0.01;
    const dir = mkdtempSync(join(tmpdir(), "ser-parity-"));
    writeFileSync(join(dir, "bad.json"), JSON.stringify(g));
    r = await run(trainerMain, ["parity", join(dir, "bad.json")]);
    assert.equal(r.code, 1);
    assert.match(r.out, /mfcc\tmax abs 1\.00e-2\t<= 0\.002\tFAIL/);
  });

  it("asks for the recording when the golden names a file", async () => {
    const golden = fileURLToPath(new URL("golden/ravdess_a01_neutral.json", FIXTURES));
    let r = await run(trainerMain, ["parity", golden]);
    assert.equal(r.code, 2);
    assert.match(r.err, /pass it with --audio FILE/);
    r = await run(trainerMain, ["parity", golden, "--audio", NEUTRAL]);
    assert.equal(r.code, 0, r.out + r.err);
  });
});

describe("ser-agent inspect", () => {
  it("reports every file and keeps going past a bad one", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ser-inspect-"));
    writeFileSync(join(dir, "broken.wav"), "RIFF");
    const r = await run(agentMain, ["inspect", NEUTRAL, dir, "--format", "jsonl"]);
    assert.equal(r.code, 1);
    const lines = r.out
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].format, "flac");
    assert.equal(lines[0].frames, 331);
    assert.equal(lines[0].source_rate, 16000);
    assert.match(lines[1].error, /broken\.wav: /);
    assert.match(r.err, /1 of 2 files could not be used/);
  });

  it("has help, a version and clear usage errors", async () => {
    let r = await run(agentMain, ["--help"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /Commands:\n\s+inspect/);
    r = await run(agentMain, ["inspect", "--help"]);
    assert.match(r.out, /Usage: ser-agent inspect FILE\|DIR/);
    r = await run(agentMain, ["--version"]);
    assert.match(r.out, /^\d+\.\d+\.\d+\n$/);
    r = await run(agentMain, ["frobnicate"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /unknown command "frobnicate"/);
    r = await run(agentMain, ["inspect"]);
    assert.equal(r.code, 2);
    assert.match(r.err, /give at least one audio file/);
  });
});

describe("installed executables", () => {
  // The package bins run the compiled dist/ (built by `npm run build`, which `npm test` runs first).
  const exec = promisify(execFile);
  it("ser-agent and ser-trainer run from node_modules/.bin", async () => {
    const agent = await exec(join(ROOT, "node_modules/.bin/ser-agent"), ["inspect", NEUTRAL]);
    assert.match(agent.stdout, /03-01-01-01-01-01-01\.flac\tflac\t16000\t1\t3\.303\t331/);
    const trainer = await exec(join(ROOT, "node_modules/.bin/ser-trainer"), ["--help"]);
    assert.match(trainer.stdout, /features\s+print one file's MFCC/);
  });
});

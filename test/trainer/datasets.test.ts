import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { encodeWav } from "@ser-edge/agent/audio";
import { type Io, runProgram } from "@ser-edge/agent/cli-kit";
import { datasetsCommand } from "../../trainer/src/commands/datasets.js";
import {
  applyLabelOptions,
  CREMAD_EMOTIONS,
  LabelError,
  labelSet,
  parseMerge,
  parseSelect,
  RAVDESS_EMOTIONS,
  SAVEE_EMOTIONS,
  TESS_EMOTIONS,
} from "../../trainer/src/datasets/labels.js";
import { scanDatasets } from "../../trainer/src/datasets/scan.js";
import { type Clip, EMOTIONS } from "../../trainer/src/datasets/types.js";

const made: string[] = [];
after(() => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** Creates `files` (paths relative to a fresh temp folder) and returns the folder. */
function tree(files: Record<string, Uint8Array | string> | string[]): string {
  const root = mkdtempSync(join(tmpdir(), "ser-datasets-"));
  made.push(root);
  const entries = Array.isArray(files) ? files.map((f) => [f, ""] as const) : Object.entries(files);
  for (const [rel, content] of entries) {
    const path = join(root, rel);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
  }
  return root;
}

function clipByName(clips: Clip[], name: string): Clip {
  const clip = clips.find((c) => c.path.endsWith(name));
  assert.ok(clip, `no clip ${name} in ${clips.map((c) => c.path).join(", ")}`);
  return clip;
}

function reasonFor(skipped: { path: string; reason: string }[], name: string): string {
  const s = skipped.find((k) => k.path.endsWith(name));
  assert.ok(s, `${name} not skipped; skipped: ${JSON.stringify(skipped)}`);
  return s.reason;
}

describe("label mapping", () => {
  it("maps every corpus code onto EMOTIONS", () => {
    assert.deepEqual(Object.values(RAVDESS_EMOTIONS), [...EMOTIONS]);
    assert.equal(CREMAD_EMOTIONS.FEA, "fearful");
    assert.equal(Object.keys(CREMAD_EMOTIONS).length, 6);
    assert.equal(TESS_EMOTIONS.ps, "surprised");
    assert.equal(TESS_EMOTIONS.fear, "fearful");
    assert.equal(SAVEE_EMOTIONS.sa, "sad");
    assert.equal(SAVEE_EMOTIONS.su, "surprised");
  });

  it("parses --merge and --labels", () => {
    assert.deepEqual(parseMerge("calm=neutral, surprised=happy"), {
      calm: "neutral",
      surprised: "happy",
    });
    assert.deepEqual(parseSelect("Neutral,happy,sad"), ["neutral", "happy", "sad"]);
  });

  it("rejects unknown labels and bad syntax with clear errors", () => {
    assert.throws(() => parseMerge("clam=neutral"), /unknown label "clam".*known labels: neutral/);
    assert.throws(() => parseMerge("calm"), /FROM=TO/);
    assert.throws(() => parseMerge("calm=calm"), /into itself/);
    assert.throws(() => parseMerge("calm=neutral,neutral=sad"), /chains/);
    assert.throws(() => parseMerge("calm=neutral,calm=sad"), /two targets/);
    assert.throws(() => parseSelect("happy,joy"), LabelError);
    assert.throws(() => parseSelect(""), /at least one/);
    assert.throws(() => parseSelect("sad,sad"), /twice/);
    assert.throws(
      () => labelSet({ merge: { calm: "neutral" }, select: ["calm"] }),
      /select neutral/,
    );
  });

  it("merges, then selects, in EMOTIONS order, without touching the input", () => {
    const clip = (label: Clip["label"]): Clip => ({
      path: `${label}.wav`,
      label,
      speaker: "x:1",
      corpus: "generic",
      extras: {},
    });
    const clips = [clip("calm"), clip("neutral"), clip("surprised"), clip("disgust")];
    const opts = {
      merge: { calm: "neutral" as const },
      select: ["sad" as const, "neutral" as const],
    };
    assert.deepEqual(labelSet(opts), ["neutral", "sad"]);
    assert.deepEqual(
      labelSet({ merge: { calm: "neutral" } }),
      EMOTIONS.filter((e) => e !== "calm"),
    );
    const out = applyLabelOptions(clips, opts);
    assert.deepEqual(
      out.map((c) => [c.path, c.label]),
      [
        ["calm.wav", "neutral"],
        ["neutral.wav", "neutral"],
      ],
    );
    assert.equal(clips[0].label, "calm");
  });
});

describe("corpus readers", () => {
  it("reads RAVDESS speech, skips song unless asked, and explains bad names", async () => {
    const root = tree([
      "Actor_01/03-01-05-02-01-02-01.wav",
      "Actor_02/03-01-01-01-02-01-02.flac",
      "Actor_02/03-02-03-01-01-01-02.wav",
      "Actor_02/01-01-03-01-01-01-02.wav",
      "Actor_02/03-01-09-01-01-01-02.wav",
      "Actor_02/notes.wav",
      "Actor_02/README.txt",
      "Actor_02/._03-01-01-01-01-01-02.wav",
      "__MACOSX/Actor_02/03-01-01-01-01-01-02.wav",
    ]);
    const r = await scanDatasets([root]);
    assert.equal(r.clips.length, 2);
    const angry = clipByName(r.clips, "03-01-05-02-01-02-01.wav");
    assert.deepEqual(
      { label: angry.label, speaker: angry.speaker, corpus: angry.corpus },
      { label: "angry", speaker: "ravdess:1", corpus: "ravdess" },
    );
    assert.deepEqual(angry.extras, {
      vocal: "speech",
      intensity: "strong",
      statement: "01",
      repetition: "02",
      sex: "male",
    });
    assert.equal(clipByName(r.clips, ".flac").extras.sex, "female");
    assert.match(reasonFor(r.skipped, "03-02-03-01-01-01-02.wav"), /song.*--include-song/);
    assert.match(reasonFor(r.skipped, "01-01-03-01-01-01-02.wav"), /modality 01/);
    assert.match(reasonFor(r.skipped, "03-01-09-01-01-01-02.wav"), /emotion code 09/);
    assert.match(reasonFor(r.skipped, "notes.wav"), /ravdess pattern/);
    assert.equal(r.skipped.length, 4, JSON.stringify(r.skipped));
    assert.deepEqual(
      r.corpora.map((c) => [c.corpus, c.clips, c.speakers]),
      [["ravdess", 2, ["ravdess:1", "ravdess:2"]]],
    );

    const withSong = await scanDatasets([root], { includeSong: true });
    assert.equal(clipByName(withSong.clips, "03-02-03-01-01-01-02.wav").extras.vocal, "song");
  });

  it("reads CREMA-D and keeps one copy of WAV/MP3 duplicates", async () => {
    const root = tree([
      "AudioWAV/1001_DFA_ANG_XX.wav",
      "AudioMP3/1001_DFA_ANG_XX.mp3",
      "AudioWAV/1002_IEO_HAP_HI.wav",
      "AudioWAV/1003_DFA_XYZ_XX.wav",
    ]);
    const r = await scanDatasets([root]);
    assert.deepEqual(
      r.clips.map((c) => [c.label, c.speaker, c.extras.sentence, c.extras.level]),
      [
        ["angry", "crema-d:1001", "DFA", "unspecified"],
        ["happy", "crema-d:1002", "IEO", "high"],
      ],
    );
    assert.ok(r.clips[0].path.endsWith(".wav"));
    const dup = r.skipped.find((k) => k.path.endsWith("1001_DFA_ANG_XX.mp3"));
    assert.match(dup?.reason ?? "", /another copy/);
    assert.match(dup?.detail ?? "", /kept .*AudioWAV.1001_DFA_ANG_XX\.wav/);
    assert.match(reasonFor(r.skipped, "1003_DFA_XYZ_XX.wav"), /emotion code XYZ/);
  });

  it("reads TESS, including ps and the OA_ spelling", async () => {
    const root = tree([
      "OAF_angry/OAF_back_angry.wav",
      "YAF_pleasant_surprised/YAF_bite_ps.wav",
      "OAF_neutral/OA_bite_neutral.wav",
      "OAF_Fear/OAF_chair_fear.wav",
      "OAF_bored/OAF_back_bored.wav",
    ]);
    const r = await scanDatasets([root]);
    assert.deepEqual(
      r.clips.map((c) => [c.label, c.speaker, c.extras.word]),
      [
        ["angry", "tess:OAF", "back"],
        ["fearful", "tess:OAF", "chair"],
        ["neutral", "tess:OAF", "bite"],
        ["surprised", "tess:YAF", "bite"],
      ],
    );
    assert.match(reasonFor(r.skipped, "OAF_back_bored.wav"), /TESS emotion "bored"/);
  });

  it("reads SAVEE flat and per-speaker layouts", async () => {
    const root = tree(["ALL/DC_a01.wav", "JK/sa03.wav", "KL/su10.wav", "ALL/DC_x01.wav"]);
    const r = await scanDatasets([root]);
    assert.deepEqual(
      r.clips.map((c) => [c.label, c.speaker]),
      [
        ["angry", "savee:DC"],
        ["sad", "savee:JK"],
        ["surprised", "savee:KL"],
      ],
    );
    assert.match(reasonFor(r.skipped, "DC_x01.wav"), /SAVEE emotion prefix "x"/);
  });

  it("reads the generic label-folder layout with speakers from folders or a regex", async () => {
    const root = tree(["angry/spk1/a.wav", "Happy/spk2/b.flac", "fear/spk1/c.mp3", "misc/d.wav"]);
    const r = await scanDatasets([root]);
    assert.deepEqual(
      r.clips.map((c) => [c.label, c.speaker, c.corpus]),
      [
        ["angry", "generic:spk1", "generic"],
        ["fearful", "generic:spk1", "generic"],
        ["happy", "generic:spk2", "generic"],
      ],
    );
    assert.match(reasonFor(r.skipped, "d.wav"), /folder "misc" is not an emotion label/);
    assert.deepEqual(r.warnings, []);

    const flat = tree(["sad/bob_1.wav", "sad/ann_2.wav", "neutral/x.wav"]);
    const noSpeaker = await scanDatasets([flat]);
    assert.ok(noSpeaker.clips.every((c) => c.speaker === "generic:unknown"));
    assert.match(noSpeaker.warnings.join("\n"), /3 clips have no speaker/);

    const byRegex = await scanDatasets([flat], { speakerRegex: "^([a-z]+)_" });
    assert.deepEqual(
      byRegex.clips.map((c) => c.speaker),
      ["generic:ann", "generic:bob"],
    );
    assert.match(reasonFor(byRegex.skipped, "x.wav"), /--speaker-regex/);
    await assert.rejects(scanDatasets([flat], { speakerRegex: "^[a-z]+_" }), /capture group/);
    await assert.rejects(scanDatasets([flat], { speakerRegex: "(" }), /--speaker-regex/);
  });

  it("finds several corpora below one folder and reports missing folders", async () => {
    const root = tree([
      "ravdess/Actor_03/03-01-04-01-01-01-03.wav",
      "savee/DC/n01.wav",
      "crema/1001_DFA_SAD_LO.wav",
    ]);
    const missing = join(root, "nope");
    const r = await scanDatasets([root, missing]);
    assert.deepEqual(r.corpora.map((c) => c.corpus).sort(), ["crema-d", "ravdess", "savee"]);
    assert.deepEqual(r.skipped, [{ path: missing, reason: "directory not found" }]);

    const unknown = await scanDatasets([tree(["take1.wav", "x/take2.mp3"])]);
    assert.equal(unknown.clips.length, 0);
    assert.equal(unknown.skipped.length, 2);
    assert.match(unknown.skipped[0].reason, /not recognised: expected RAVDESS, CREMA-D/);
  });
});

/** Short real WAVs: 1.0 s and 0.5 s of a quiet tone at 16 kHz. */
function wav(seconds: number): Uint8Array {
  const samples = new Float32Array(Math.round(16000 * seconds));
  for (let i = 0; i < samples.length; i++)
    samples[i] = 0.1 * Math.sin((2 * Math.PI * 440 * i) / 16000);
  return encodeWav(samples, 16000, { format: "pcm16" });
}

async function runDatasets(argv: string[]) {
  let out = "";
  let err = "";
  const io: Io = { out: (t) => (out += t), err: (t) => (err += t) };
  const program = {
    name: "ser-trainer",
    version: "0",
    description: "test",
    commands: [datasetsCommand],
  };
  const code = await runProgram(program, ["datasets", ...argv], io);
  return { code, out, err };
}

describe("ser-trainer datasets", () => {
  const root = tree({
    "Actor_01/03-01-02-01-01-01-01.wav": wav(1),
    "Actor_02/03-01-05-01-01-01-02.wav": wav(0.5),
    "Actor_02/03-01-04-01-01-01-02.wav": new TextEncoder().encode("not audio at all"),
    "Actor_02/take7.wav": wav(0.5),
  });

  it("prints corpora, labels, speakers, duration, skipped and unreadable files", async () => {
    const r = await runDatasets([root]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /Found 2 clips from 1 corpus, 2 speakers, 1\.5 s\./);
    assert.match(r.out, /ravdess\s+2 clips, 2 speakers, 1\.5 s/);
    assert.match(r.out, /calm\s+1\s+1\n/);
    assert.match(r.out, /angry\s+1\s+1\n/);
    assert.match(r.out, /ravdess \(2\): ravdess:1, ravdess:2/);
    assert.match(r.out, /Skipped 1 file:\n.*ravdess pattern.*\n.*take7\.wav/);
    assert.match(r.out, /Unreadable 1 file \(left out\):\n.*03-01-04-01-01-01-02\.wav: /);
  });

  it("--json carries the same facts; --merge and --labels apply", async () => {
    const r = await runDatasets([root, "--json", "--merge", "calm=neutral", "--labels", "neutral"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.deepEqual(j.labels, ["neutral"]);
    assert.deepEqual(j.total.labels, { neutral: 1 });
    assert.equal(j.total.clips, 1);
    assert.equal(j.droppedByLabels, 2);
    assert.ok(Math.abs(j.total.durationSec - 1) < 1e-6);
    assert.equal(j.skipped.length, 1);
    assert.equal(
      j.unreadable.length,
      0,
      "the unreadable file was a sad clip, left out by --labels",
    );
  });

  it("--no-decode trusts names and reports no duration", async () => {
    const r = await runDatasets([root, "--no-decode", "--json"]);
    assert.equal(r.code, 0, r.err);
    const j = JSON.parse(r.out);
    assert.equal(j.total.clips, 3);
    assert.equal(j.total.durationSec, undefined);
  });

  it("exits 2 on unknown labels and 1 when nothing usable is found", async () => {
    const bad = await runDatasets([root, "--labels", "joy"]);
    assert.equal(bad.code, 2);
    assert.match(bad.err, /unknown label "joy"/);
    const empty = await runDatasets([tree(["misc/readme.txt"])]);
    assert.equal(empty.code, 1);
    assert.match(empty.err, /no usable clips/);
    const none = await runDatasets([]);
    assert.equal(none.code, 2);
  });
});

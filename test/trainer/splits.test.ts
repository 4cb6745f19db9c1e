import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  assertSpeakerDisjoint,
  crossCorpus,
  kFoldBySpeaker,
  randomSplit,
  ravdessActors,
  type Split,
  SplitError,
  speakersOf,
  splitBySpeaker,
  splitManifest,
} from "../../trainer/src/datasets/splits.js";
import { type Clip, EMOTIONS, type Emotion } from "../../trainer/src/datasets/types.js";

/** 24 RAVDESS-like actors (odd male), every label twice, plus 6 CREMA-D actors without sex. */
function corpus(): Clip[] {
  const clips: Clip[] = [];
  for (let actor = 1; actor <= 24; actor++) {
    for (const label of EMOTIONS) {
      for (const rep of [1, 2]) {
        clips.push({
          path: `/data/ravdess/Actor_${actor}/${label}-${rep}.wav`,
          label,
          speaker: `ravdess:${actor}`,
          corpus: "ravdess",
          extras: { sex: actor % 2 === 1 ? "male" : "female" },
        });
      }
    }
  }
  const crema: Emotion[] = ["angry", "disgust", "fearful", "happy", "neutral", "sad"];
  for (let actor = 1001; actor <= 1006; actor++) {
    for (const label of crema) {
      clips.push({
        path: `/data/crema/${actor}_${label}.wav`,
        label,
        speaker: `crema-d:${actor}`,
        corpus: "crema-d",
        extras: {},
      });
    }
  }
  return clips;
}

const CLIPS = corpus();
const ravdess = CLIPS.filter((c) => c.corpus === "ravdess");

/** The property the issue asks for: no speaker in two sets, and no clip lost or duplicated. */
function checkSpeakerIndependent(split: Split, clips: Clip[]): void {
  assertSpeakerDisjoint(split);
  const sets = [split.train, split.validation, split.test].map((cs) => new Set(speakersOf(cs)));
  for (let i = 0; i < sets.length; i++) {
    for (let j = i + 1; j < sets.length; j++) {
      for (const s of sets[i]) assert.ok(!sets[j].has(s), `speaker ${s} in sets ${i} and ${j}`);
    }
  }
  const all = [...split.train, ...split.validation, ...split.test].map((c) => c.path).sort();
  assert.deepEqual(all, clips.map((c) => c.path).sort());
  assert.deepEqual(split.speakers.validation, speakersOf(split.validation));
}

describe("splitBySpeaker", () => {
  it("puts no speaker in two sets (fractions)", () => {
    for (const seed of [0, 1, 2, "x"]) {
      const split = splitBySpeaker(CLIPS, { validation: 0.2, test: 0.1, seed });
      checkSpeakerIndependent(split, CLIPS);
      assert.equal(split.speakers.validation.length, 6); // round(0.2 * 30)
      assert.equal(split.speakers.test.length, 3);
      assert.equal(split.speakers.train.length, 21);
    }
  });

  it("puts no speaker in two sets (explicit RAVDESS protocol)", () => {
    const split = splitBySpeaker(ravdess, {
      validation: ravdessActors([19, 20]),
      test: ravdessActors([21, 22, 23, 24]),
    });
    checkSpeakerIndependent(split, ravdess);
    assert.deepEqual(split.speakers.test, ["ravdess:21", "ravdess:22", "ravdess:23", "ravdess:24"]);
    assert.equal(split.speakers.train.length, 18);
    assert.equal(split.train.length, 18 * 16);
  });

  it("mixes an explicit test list with a validation fraction", () => {
    const split = splitBySpeaker(ravdess, { validation: 0.25, test: ravdessActors([1, 2]) });
    checkSpeakerIndependent(split, ravdess);
    assert.equal(split.speakers.validation.length, 6);
    assert.ok(!split.speakers.validation.includes("ravdess:1"));
  });

  it("balances sex and corpora in held-out sets", () => {
    const split = splitBySpeaker(ravdess, { validation: 0.25, seed: 7 });
    const sexes = split.validation.reduce<Record<string, Set<string>>>((acc, c) => {
      acc[c.extras.sex] ??= new Set();
      acc[c.extras.sex].add(c.speaker);
      return acc;
    }, {});
    assert.equal(sexes.male.size, 3);
    assert.equal(sexes.female.size, 3);
    const mixed = splitBySpeaker(CLIPS, { validation: 0.2, seed: 3 });
    assert.equal(mixed.speakers.validation.filter((s) => s.startsWith("crema-d:")).length, 1);
  });

  it("is deterministic for a seed and varies across seeds", () => {
    const a = splitBySpeaker(CLIPS, { validation: 0.2, test: 0.2, seed: 42 });
    const b = splitBySpeaker(CLIPS, { validation: 0.2, test: 0.2, seed: 42 });
    assert.deepEqual(a.speakers, b.speakers);
    assert.deepEqual(a.train, b.train);
    const others = [1, 2, 3, 4, 5].map(
      (seed) => splitBySpeaker(CLIPS, { validation: 0.2, test: 0.2, seed }).speakers.validation,
    );
    assert.ok(others.some((v) => JSON.stringify(v) !== JSON.stringify(a.speakers.validation)));
  });

  it("rejects unknown or doubly assigned speakers and impossible fractions", () => {
    assert.throws(() => splitBySpeaker(CLIPS, { validation: ["ravdess:99"] }), /ravdess:99/);
    assert.throws(
      () => splitBySpeaker(CLIPS, { validation: ["ravdess:1"], test: ["ravdess:1"] }),
      /validation and test/,
    );
    assert.throws(() => splitBySpeaker(CLIPS, { validation: 0.6, test: 0.5 }), SplitError);
    assert.throws(() => splitBySpeaker(CLIPS, { validation: 1.5 }), /\[0, 1\)/);
    assert.throws(() => ravdessActors([25]), /1\.\.24/);
  });
});

describe("kFoldBySpeaker", () => {
  it("validates every speaker exactly once and never trains on it in that fold", () => {
    const folds = kFoldBySpeaker(CLIPS, 5, 1);
    assert.equal(folds.length, 5);
    const validated = folds.flatMap((f) => f.speakers.validation).sort();
    assert.deepEqual(validated, speakersOf(CLIPS).sort());
    for (const f of folds) {
      assertSpeakerDisjoint(f);
      assert.equal(f.train.length + f.validation.length, CLIPS.length);
      assert.equal(f.speakers.validation.length, 6);
    }
    assert.deepEqual(kFoldBySpeaker(CLIPS, 5, 1), folds);
  });

  it("needs 2 <= k <= speakers", () => {
    assert.throws(() => kFoldBySpeaker(CLIPS, 1, 0), /k must be/);
    assert.throws(() => kFoldBySpeaker(CLIPS, 31, 0), /at least 31 speakers/);
  });
});

describe("randomSplit", () => {
  it("splits clips by the fractions and warns about speaker leakage", () => {
    const split = randomSplit(CLIPS, { validation: 0.2, test: 0.1 }, 0);
    assert.equal(split.validation.length, Math.round(0.2 * CLIPS.length));
    assert.equal(split.test.length, Math.round(0.1 * CLIPS.length));
    assert.equal(split.train.length + split.validation.length + split.test.length, CLIPS.length);
    assert.match(split.warning, /speakers are in more than one set/);
    assert.match(split.warning, /optimistic/);
    assert.throws(() => assertSpeakerDisjoint(split), /more than one set/);
    assert.deepEqual(randomSplit(CLIPS, { validation: 0.2, test: 0.1 }, 0).train, split.train);
  });
});

describe("crossCorpus", () => {
  it("keeps the labels both sides share and reports the dropped ones", () => {
    const r = crossCorpus(CLIPS, ["ravdess"], "crema-d");
    assert.deepEqual(r.labels, ["neutral", "happy", "sad", "angry", "fearful", "disgust"]);
    assert.deepEqual(r.dropped, { train: ["calm", "surprised"], test: [] });
    assert.ok(r.train.every((c) => c.corpus === "ravdess" && r.labels.includes(c.label)));
    assert.equal(r.test.length, 36);
    assert.equal(r.train.length, 24 * 6 * 2);
    assertSpeakerDisjoint(r);

    const back = crossCorpus(CLIPS, ["crema-d"], "ravdess");
    assert.deepEqual(back.dropped, { train: [], test: ["calm", "surprised"] });
    assert.ok(back.test.every((c) => c.label !== "calm" && c.label !== "surprised"));
  });

  it("rejects a corpus on both sides or without clips", () => {
    assert.throws(() => crossCorpus(CLIPS, ["ravdess"], "ravdess"), /both/);
    assert.throws(() => crossCorpus(CLIPS, ["ravdess"], "tess"), /no clips of tess/);
  });
});

describe("assertSpeakerDisjoint and splitManifest", () => {
  it("names the speakers found in two sets", () => {
    const [a, b] = CLIPS;
    assert.throws(
      () => assertSpeakerDisjoint({ train: [a], validation: [b], test: [] }),
      /ravdess:1 \(train, validation\)/,
    );
  });

  it("describes a split as JSON: speakers, clip paths and label counts per set", () => {
    const split = splitBySpeaker(ravdess, {
      validation: ravdessActors([1]),
      test: ravdessActors([2]),
    });
    const m = splitManifest(split, { meta: { seed: 0 }, relativeTo: "/data" });
    const round = JSON.parse(JSON.stringify(m));
    assert.deepEqual(round, m);
    assert.equal(m.version, 1);
    assert.deepEqual(m.sets.validation.speakers, ["ravdess:1"]);
    assert.equal(m.sets.test.clips[0], "ravdess/Actor_2/neutral-1.wav");
    assert.equal(m.sets.train.clips.length, 22 * 16);
    assert.equal(m.sets.validation.labels.calm, 2);
    assert.deepEqual(Object.keys(m.sets.train.labels), [...EMOTIONS]);
  });
});

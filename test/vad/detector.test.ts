import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "../../agent/src/audio/index.js";
import {
  SileroVad,
  type SpeechModel,
  type Utterance,
  UtteranceDetector,
  type VadFrame,
  VoiceActivityDetector,
  WebRtcVad,
} from "../../agent/src/vad/index.js";
import { dbfs, mixAt, rng, SR, voicedBurst, whiteNoise } from "./signals.js";

const F = 160;

/** A stand-in stage (b): "speech" when the window is louder than -45 dBFS; counts its calls. */
class LoudnessModel implements SpeechModel {
  readonly name = "loudness";
  calls = 0;
  resets = 0;
  /** Stream position of each window, reconstructed by the test from call order. */
  constructor(readonly windowSamples = 512) {}
  process(window: Float32Array): number {
    this.calls++;
    return dbfs(window) > -45 ? 0.9 : 0.1;
  }
  reset(): void {
    this.resets++;
  }
  dispose(): void {}
}

async function decide(vad: VoiceActivityDetector, x: Float32Array, chunk = 320) {
  const frames: VadFrame[] = [];
  for (let i = 0; i < x.length; i += chunk)
    frames.push(...(await vad.push(x.subarray(i, i + chunk))));
  frames.push(...(await vad.flush()));
  return frames;
}

function speechRuns(frames: VadFrame[]): [number, number][] {
  const runs: [number, number][] = [];
  for (let f = 0; f < frames.length; f++) {
    if (!frames[f].speech) continue;
    let e = f;
    while (e < frames.length && frames[e].speech) e++;
    runs.push([frames[f].startSample / SR, (frames[e - 1].startSample + F) / SR]);
    f = e;
  }
  return runs;
}

function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol,
    `${what}: ${actual} not within ${tol} of ${expected}`,
  );
}

/** 12 s: bursts at known times over a -70 dBFS floor. */
function burstSignal(): { x: Float32Array; bursts: [number, number][] } {
  const x = whiteNoise(12, -70, 11);
  const bursts: [number, number][] = [
    [2.0, 3.0],
    [6.0, 6.6],
    [9.0, 10.5],
  ];
  bursts.forEach(([a, b], k) => {
    mixAt(x, voicedBurst(b - a, -30, 120 + 40 * k, 3 + k), a);
  });
  return { x, bursts };
}

describe("VoiceActivityDetector", () => {
  it("keeps stage (b) asleep in silence and low noise", async () => {
    for (const x of [new Float32Array(10 * SR), whiteNoise(10, -70, 1), whiteNoise(10, -62, 2)]) {
      const model = new LoudnessModel();
      const vad = new VoiceActivityDetector({ model });
      const frames = await decide(vad, x);
      assert.equal(frames.length, (10 * SR) / F);
      assert.equal(model.calls, 0);
      assert.equal(vad.stats.wakeups, 0);
      assert.ok(frames.every((f) => !f.speech && f.probability === undefined));
    }
  });

  it("wakes stage (b) on each burst, with lookback, and lets it sleep again", async () => {
    const { x, bursts } = burstSignal();
    const model = new LoudnessModel();
    const vad = new VoiceActivityDetector({ model, lookbackMs: 300, sleepAfterMs: 1000 });
    const frames = await decide(vad, x);
    // Every frame once, in order.
    frames.forEach((f, k) => {
      assert.equal(f.startSample, k * F);
      assert.equal(f.samples.length, F);
    });
    assert.equal(vad.stats.wakeups, 3);
    assert.equal(model.resets, 3);
    const runs = speechRuns(frames);
    assert.equal(runs.length, 3, JSON.stringify(runs));
    runs.forEach(([a, b], k) => {
      near(a, bursts[k][0], 0.04, `burst ${k} start`);
      near(b, bursts[k][1], 0.04, `burst ${k} end`);
    });
    // The model judged frames from 300 ms before the gate opened (the lookback) ...
    const judged = frames.filter((f) => f.probability !== undefined);
    near(judged[0].startSample / SR, bursts[0][0] - 0.3, 0.02, "first judged frame");
    // ... and slept about hold (300 ms) + sleepAfter (1 s) after each burst.
    for (const [, end] of bursts) {
      const awakeAfter = frames.filter(
        (f) =>
          f.probability !== undefined && f.startSample / SR >= end && f.startSample / SR < end + 2,
      );
      near(awakeAfter.length * 0.01, 1.3, 0.1, `awake after the burst ending at ${end}`);
    }
    // Stage (b) ran on the bursts plus, for each, lookback + hold + sleepAfter (1.6 s).
    near((model.calls * 512) / SR, 3.1 + 3 * 1.6, 0.2, "seconds of audio stage (b) ran on");
  });

  it("gives the same decisions whatever the chunking", async () => {
    const { x } = burstSignal();
    const whole = await decide(
      new VoiceActivityDetector({ model: new LoudnessModel() }),
      x,
      x.length,
    );
    const r = rng(5);
    const vad = new VoiceActivityDetector({ model: new LoudnessModel() });
    const pieces: VadFrame[] = [];
    for (let i = 0; i < x.length; ) {
      const n = 1 + Math.floor(r() * 900);
      pieces.push(...(await vad.push(x.subarray(i, i + n))));
      i += n;
    }
    pieces.push(...(await vad.flush()));
    assert.deepEqual(
      pieces.map((f) => [f.startSample, f.speech, f.gateOpen]),
      whole.map((f) => [f.startSample, f.speech, f.gateOpen]),
    );
  });

  it("without the gate runs the model on every window; without a model the gate decides", async () => {
    const { x, bursts } = burstSignal();
    const model = new LoudnessModel();
    await decide(new VoiceActivityDetector({ model, gate: false }), x);
    assert.equal(model.calls, Math.ceil(x.length / 512));
    const gateOnly = await decide(new VoiceActivityDetector({ gate: { holdMs: 0 } }), x);
    const runs = speechRuns(gateOnly);
    assert.equal(runs.length, 3);
    runs.forEach(([a, b], k) => {
      near(a, bursts[k][0], 0.03, "gate start");
      near(b, bursts[k][1], 0.03, "gate end");
    });
    assert.throws(() => new VoiceActivityDetector({ gate: false }), RangeError);
  });

  it("refuses overlapping calls", async () => {
    const slow: SpeechModel = {
      name: "slow",
      windowSamples: 512,
      process: async () => 1,
      reset() {},
      dispose() {},
    };
    const vad = new VoiceActivityDetector({ model: slow, gate: false });
    const first = vad.push(new Float32Array(2048));
    await assert.rejects(vad.push(new Float32Array(160)), /before the last one finished/);
    await first;
  });

  it("WebRTC VAD (WASM) behind the gate finds synthetic voiced bursts", async () => {
    const { x, bursts } = burstSignal();
    const model = await WebRtcVad.create({ mode: 3 });
    try {
      const runs = speechRuns(await decide(new VoiceActivityDetector({ model }), x));
      assert.equal(runs.length, 3, JSON.stringify(runs));
      runs.forEach(([a, b], k) => {
        near(a, bursts[k][0], 0.1, `burst ${k} start`);
        near(b, bursts[k][1], 0.2, `burst ${k} end`);
      });
    } finally {
      model.dispose();
    }
  });
});

describe("Silero VAD (ONNX) behind the gate", () => {
  it("finds a real utterance in silence and in noise, and nothing else", async () => {
    // A RAVDESS fixture clip: real speech (Silero calls the synthetic vowels of the other tests
    // speech only for their first ~250 ms). Its speech, by its clean energy, spans 0.85-2.26 s.
    const clipPath = fileURLToPath(
      new URL("../fixtures/audio/03-01-01-01-01-01-01.flac", import.meta.url),
    );
    const clip = (await readAudioFile(clipPath)).samples;
    const clipSpeech = cleanSpeechSpan(clip);
    for (const sampleRate of [16000, 8000] as const) {
      await findsTheUtterance(clip, clipSpeech, await SileroVad.create({ sampleRate }));
    }
  });
});

describe("Silero through the binding, synchronously", () => {
  it("is the default, and scores every window exactly as the public API does", async () => {
    const clipPath = fileURLToPath(
      new URL("../fixtures/audio/03-01-01-01-01-01-01.flac", import.meta.url),
    );
    const clip = (await readAudioFile(clipPath)).samples;
    const sync = await SileroVad.create();
    const viaPublic = await SileroVad.create({ sync: false });
    try {
      // If an onnxruntime-node upgrade removes the internal binding, this says so.
      assert.equal(sync.via, "sync");
      assert.equal(viaPublic.via, "public");
      const scores: number[][] = [[], []];
      for (let at = 0; at + 512 <= clip.length; at += 512) {
        const w = clip.subarray(at, at + 512);
        scores[0].push(await sync.process(w));
        scores[1].push(await viaPublic.process(w));
      }
      assert.deepEqual(scores[0], scores[1]);
      assert.ok(Math.max(...scores[0]) > 0.9, "the clip's speech is found");
      assert.ok(Math.min(...scores[0]) < 0.1, "its silence is not speech");
    } finally {
      await sync.dispose();
      await viaPublic.dispose();
    }
  });

  it("refuses a file that is not a Silero model, either way", async () => {
    const notSilero = fileURLToPath(new URL("../../models/default/model.onnx", import.meta.url));
    for (const sync of [true, false]) {
      await assert.rejects(SileroVad.create({ modelPath: notSilero, sync }), /not a Silero/);
    }
  });
});

async function findsTheUtterance(
  clip: Float32Array,
  clipSpeech: [number, number],
  model: SileroVad,
) {
  try {
    for (const noiseDb of [-75, -55]) {
      const x = whiteNoise(14, noiseDb, 21);
      mixAt(x, clip, 3);
      const vad = new VoiceActivityDetector({ model });
      const utterances: Utterance[] = [];
      const detector = new UtteranceDetector(vad, { preRollMs: 200, hangoverMs: 300 });
      for (let i = 0; i < x.length; i += 320) {
        utterances.push(...(await detector.push({ samples: x.subarray(i, i + 320) })));
      }
      utterances.push(...(await detector.flush()));
      const what = `${model.name}, ${noiseDb} dBFS`;
      assert.equal(utterances.length, 1, `${what}: ${utterances.length} utterances`);
      const [u] = utterances;
      near(u.speechStartSample / SR, 3 + clipSpeech[0], 0.25, `${what}: speech start`);
      near(u.speechEndSample / SR, 3 + clipSpeech[1], 0.25, `${what}: speech end`);
      assert.equal(u.startSample, u.speechStartSample - 0.2 * SR);
      assert.equal(u.endSample, u.speechEndSample + 0.3 * SR);
    }
  } finally {
    await model.dispose();
  }
}

/** First and last 10 ms frame within 30 dB of the loudest, in seconds. */
function cleanSpeechSpan(x: Float32Array): [number, number] {
  const n = Math.floor(x.length / F);
  const db = Array.from({ length: n }, (_, f) => dbfs(x, f * F, (f + 1) * F));
  const peak = Math.max(...db);
  const loud = db.map((d) => d >= peak - 30);
  return [loud.indexOf(true) / 100, (loud.lastIndexOf(true) + 1) / 100];
}

describe("UtteranceDetector", () => {
  it("turns bursts into utterances with the configured pre-roll and hangover", async () => {
    const { x, bursts } = burstSignal();
    const detector = new UtteranceDetector(new VoiceActivityDetector({ gate: { holdMs: 0 } }), {
      preRollMs: 250,
      hangoverMs: 500,
      minSpeechMs: 200,
    });
    const out: Utterance[] = [];
    for (let i = 0; i < x.length; i += 1000) {
      out.push(...(await detector.push({ samples: x.subarray(i, i + 1000) })));
    }
    out.push(...(await detector.flush()));
    assert.equal(out.length, 3);
    out.forEach((u, k) => {
      near(u.speechStartSample / SR, bursts[k][0], 0.03, "speech start");
      near(u.speechEndSample / SR, bursts[k][1], 0.03, "speech end");
      assert.equal(u.startSample, u.speechStartSample - 0.25 * SR);
      assert.equal(u.endSample, u.speechEndSample + 0.5 * SR);
      assert.deepEqual(u.samples, x.slice(u.startSample, u.endSample));
    });
  });

  it("ends the utterance at a discontinuity and starts afresh", async () => {
    const x = whiteNoise(3, -70, 8);
    mixAt(x, voicedBurst(1.5, -30, 150, 9), 1);
    const detector = new UtteranceDetector(new VoiceActivityDetector({ gate: { holdMs: 0 } }));
    const out: Utterance[] = [];
    // The source loses audio at 2.0 s (mid-burst): the next chunk comes flagged.
    for (let i = 0; i < 2 * SR; i += 320) {
      out.push(...(await detector.push({ samples: x.subarray(i, i + 320) })));
    }
    assert.equal(out.length, 0);
    const after = whiteNoise(2, -70, 10);
    out.push(...(await detector.push({ samples: after.subarray(0, 320), discontinuity: true })));
    assert.equal(out.length, 1);
    assert.equal(out[0].end, "flush");
    assert.equal(out[0].endSample, 2 * SR);
    for (let i = 320; i < after.length; i += 320) {
      out.push(...(await detector.push({ samples: after.subarray(i, i + 320) })));
    }
    out.push(...(await detector.flush()));
    assert.equal(out.length, 1);
  });
});

import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "../../agent/src/audio/index.js";
import {
  createSilero,
  floatInitializers,
  SileroVad,
  SileroWasmVad,
  sileroModelPath,
} from "../../agent/src/vad/index.js";
import { whiteNoise } from "./signals.js";

const FIXTURES = fileURLToPath(new URL("../fixtures/audio/", import.meta.url));
const CLIPS = ["03-01-01-01-01-01-01.flac", "03-01-05-02-01-01-02.flac"];

/** Both runtimes over the same stream, window by window, state carried across the whole stream. */
async function compare(x: Float32Array) {
  const ort = await SileroVad.create({ threads: 1 });
  const wasm = new SileroWasmVad();
  let worst = 0;
  let disagree = 0;
  const probs: number[] = [];
  try {
    for (let i = 0; i + 512 <= x.length; i += 512) {
      const w = x.subarray(i, i + 512);
      const a = await ort.process(w);
      const b = wasm.process(w);
      worst = Math.max(worst, Math.abs(a - b));
      if (a >= 0.5 !== b >= 0.5) disagree++;
      probs.push(b);
    }
  } finally {
    await ort.dispose();
  }
  return { worst, disagree, probs, wasm };
}

describe("Silero in WebAssembly", () => {
  it("gives ONNX Runtime's probabilities, window by window, on speech and noise", async () => {
    const parts = await Promise.all(
      CLIPS.map(async (f) => (await readAudioFile(join(FIXTURES, f))).samples),
    );
    const noise = whiteNoise(3, -30, 7);
    const x = new Float32Array(parts[0].length + noise.length + parts[1].length);
    x.set(parts[0]);
    x.set(noise, parts[0].length);
    x.set(parts[1], parts[0].length + noise.length);
    const r = await compare(x);
    assert.ok(r.worst < 1e-4, `largest difference ${r.worst}`);
    assert.equal(r.disagree, 0);
    // A real comparison: the clips hold speech and the noise does not.
    assert.ok(r.probs.some((p) => p > 0.9) && r.probs.some((p) => p < 0.1));
  });

  it("reset() forgets the stream: the same window scores as in a fresh model", async () => {
    const x = (await readAudioFile(join(FIXTURES, CLIPS[1]))).samples;
    const fresh = new SileroWasmVad();
    const first = Array.from({ length: 10 }, (_, k) =>
      fresh.process(x.subarray(k * 512, (k + 1) * 512)),
    );
    const used = new SileroWasmVad();
    for (let k = 20; k < 40; k++) used.process(x.subarray(k * 512, (k + 1) * 512));
    used.reset();
    const again = Array.from({ length: 10 }, (_, k) =>
      used.process(x.subarray(k * 512, (k + 1) * 512)),
    );
    assert.deepEqual(again, first);
    assert.throws(() => used.process(new Float32Array(511)), /expected 512 samples/);
  });

  it("reads the weights from Silero's ONNX file, and refuses other models clearly", () => {
    const inits = floatInitializers(readFileSync(sileroModelPath("v6-ifless")));
    assert.deepEqual(inits.get("model.decoder.rnn.weight_ih")?.dims, [512, 128]);
    assert.equal(inits.get("model.decoder.rnn.weight_ih")?.data.length, 512 * 128);
    const emotion = fileURLToPath(new URL("../../models/default/model.onnx", import.meta.url));
    assert.throws(() => new SileroWasmVad(emotion), /not the Silero v6 this kernel runs/);
    const dir = mkdtempSync(join(tmpdir(), "silero-"));
    const cut = join(dir, "truncated.onnx");
    writeFileSync(cut, readFileSync(sileroModelPath("v6-ifless")).subarray(0, 100_000));
    assert.throws(() => new SileroWasmVad(cut), /truncated/);
  });

  it("is what the agent runs by default; ONNX Runtime on request and for 8 kHz", async () => {
    const models = [
      await createSilero(),
      await createSilero({ runtime: "onnxruntime" }),
      await createSilero({ runtime: "wasm", sampleRate: 8000 }),
    ];
    try {
      assert.ok(models[0] instanceof SileroWasmVad);
      assert.ok(models[1] instanceof SileroVad && models[1].sampleRate === 16000);
      assert.ok(models[2] instanceof SileroVad && models[2].sampleRate === 8000);
    } finally {
      for (const m of models) await m.dispose();
    }
  });
});

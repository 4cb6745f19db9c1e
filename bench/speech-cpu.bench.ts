// Continuous-speech CPU of the agent in a fresh process (what a device runs), as
// bench/runtime.bench.ts measures it inside `npm run bench` (where the feature, model and VAD
// benchmarks ran first in the same process): the steady cost, a 300 s run minus a 60 s run of
// the bench's speech signal, fast input, embedded broker. Extra arguments are agent settings.
// Run: node --conditions=source --import tsx bench/speech-cpu.bench.ts [--inference-runtime onnxruntime]
import { readAudioFile } from "../agent/src/audio/index.js";
import { AgentHarness } from "../agent/src/bench/harness.js";
import { SamplesSource } from "../agent/src/bench/samples-source.js";
import { repeatTo, toS16Steps, trimToSpeech } from "../agent/src/bench/signals.js";
import { DEMO_CLIPS, FIXTURE_CLIPS, ROOT } from "../test/runtime/bundle.js";

const SR = 16000;
const settings = process.argv.slice(2);
const decoded = await Promise.all(
  [...FIXTURE_CLIPS, ...DEMO_CLIPS].map(async (f) => (await readAudioFile(f)).samples),
);
const parts = decoded.map((x) => toS16Steps(trimToSpeech(x)));

async function cpuMs(x: Float32Array): Promise<number> {
  const source = new SamplesSource("speech", x, { fast: true, chunkMs: 100 });
  const h = await AgentHarness.prepare({
    modelDir: `${ROOT}models/default`,
    source,
    fast: true,
    settings,
  });
  try {
    return (await h.run(30_000)).cpuMs;
  } finally {
    await h.stop();
  }
}

await cpuMs(repeatTo(parts, 3 * SR)); // warm-up, not measured
const speech = repeatTo(parts, 300 * SR);
const short = await cpuMs(speech.subarray(0, 60 * SR));
const long = await cpuMs(speech);
console.log(
  `${settings.join(" ") || "defaults"}: ${((long - short) / 240).toFixed(2)} ms per audio-s`,
);
process.exit(0);

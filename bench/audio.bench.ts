// Audio input benchmark: decode + resample a real 48 kHz RAVDESS WAV, and decode a 16 kHz FLAC.
// Run alone: node --conditions=source --import tsx bench/audio.bench.ts
import { existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { decodeAudio, initResampler, readAudioFile, resampleSync } from "@ser-edge/agent/audio";
import { medianMs as median } from "./stats.js";

const WARMUP = 3;
const RUNS = 15;

const medianMs = (fn: () => Promise<unknown>) => median(fn, RUNS, WARMUP);

export async function benchAudio(): Promise<Record<string, number>> {
  await initResampler();
  const results: Record<string, number> = {};

  // The real 48 kHz corpus lives beside the repo (/work/shared), not in it.
  const ravdessDir = fileURLToPath(new URL("../../shared/data/ravdess48/", import.meta.url));
  const wav = existsSync(ravdessDir)
    ? readdirSync(ravdessDir).find((f) => f.endsWith(".wav"))
    : undefined;
  if (wav) {
    const path = `${ravdessDir}${wav}`;
    const bytes = new Uint8Array(await readFile(path));
    const decoded = await decodeAudio(bytes, path);
    results.wav48k_seconds = decoded.durationSec;
    results.wav48k_read_decode_resample_ms = await medianMs(() => readAudioFile(path));
    results.wav48k_decode_ms = await medianMs(() => decodeAudio(bytes, path));
    results.wav48k_resample_ms = await medianMs(async () =>
      resampleSync(decoded.samples, decoded.sampleRate, 16000),
    );
  } else {
    console.log(`skipping 48 kHz WAV bench: no .wav files in ${ravdessDir}`);
  }

  const flacPath = fileURLToPath(
    new URL("../test/fixtures/audio/03-01-01-01-01-01-01.flac", import.meta.url),
  );
  const flac = new Uint8Array(await readFile(flacPath));
  const d = await decodeAudio(flac, flacPath);
  results.flac16k_seconds = d.durationSec;
  results.flac16k_decode_ms = await medianMs(() => decodeAudio(flac, flacPath));
  return results;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const results = await benchAudio();
  console.log(`audio bench (median of ${RUNS} runs after ${WARMUP} warm-up)`);
  for (const [name, value] of Object.entries(results)) {
    console.log(`  ${name.padEnd(34)} ${value.toFixed(3).padStart(10)}`);
  }
}

// Real-data check of decoding + resampling: each original 48 kHz RAVDESS WAV in
// ../shared/data/ravdess48, resampled by us to 16 kHz, against the corpus' own 16 kHz FLAC of the
// same clip in ../shared/data/ravdess (made by another resampler). Prints the length difference
// and the signal-to-difference ratio per clip. Run: npm run check:resample
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "@ser-edge/agent/audio";

const shared = fileURLToPath(new URL("../../shared/data/", import.meta.url));
const dir48 = join(shared, "ravdess48");
if (!existsSync(dir48)) {
  console.log(`no ${dir48}: nothing to check`);
  process.exit(0);
}
console.log("clip\tsamples_ours\tsamples_ref\tSDR_dB");
const sdrs: number[] = [];
for (const name of readdirSync(dir48)
  .filter((f) => f.endsWith(".wav"))
  .sort()) {
  const actor = name.slice(-6, -4);
  const ref = join(shared, "ravdess", `Actor_${actor}`, name.replace(/\.wav$/, ".flac"));
  if (!existsSync(ref)) continue;
  const ours = await readAudioFile(join(dir48, name));
  const theirs = await readAudioFile(ref);
  const n = Math.min(ours.samples.length, theirs.samples.length);
  let sig = 0;
  let diff = 0;
  for (let i = 0; i < n; i++) {
    sig += theirs.samples[i] ** 2;
    diff += (ours.samples[i] - theirs.samples[i]) ** 2;
  }
  const sdr = 10 * Math.log10(sig / Math.max(diff, 1e-30));
  sdrs.push(sdr);
  console.log(`${name}\t${ours.samples.length}\t${theirs.samples.length}\t${sdr.toFixed(1)}`);
}
sdrs.sort((a, b) => a - b);
console.log(
  `${sdrs.length} clips, SDR min ${sdrs[0]?.toFixed(1)} dB, median ${sdrs[sdrs.length >> 1]?.toFixed(1)} dB`,
);

import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { encodeWav } from "@ser-edge/agent/audio";

/** Two "emotions" told apart by pitch and loudness, four speakers with their own timbre. */
export function makeCorpus(root: string) {
  const sr = 16000;
  for (const [label, f0, amp] of [
    ["happy", 320, 0.3],
    ["sad", 140, 0.08],
  ] as const) {
    for (const speaker of ["s1", "s2", "s3", "s4"]) {
      const dir = join(root, label, speaker);
      mkdirSync(dir, { recursive: true });
      const timbre = Number(speaker.slice(1));
      for (let k = 0; k < 6; k++) {
        const n = sr * (0.8 + 0.1 * k);
        const x = new Float32Array(n);
        const f = f0 * (1 + 0.03 * (k - timbre));
        for (let i = 0; i < n; i++) {
          const t = i / sr;
          x[i] =
            amp *
            (Math.sin(2 * Math.PI * f * t) + (0.3 / timbre) * Math.sin(2 * Math.PI * 3 * f * t));
        }
        writeFileSync(join(dir, `${label}-${k}.wav`), encodeWav(x, sr));
      }
    }
  }
}

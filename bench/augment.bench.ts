// Augmentation cost per 3.5 s clip (the trainer augments every training clip every epoch).
// Run alone: node --conditions=source --import tsx bench/augment.bench.ts
import { fileURLToPath } from "node:url";
import {
  Augmenter,
  createRng,
  DEFAULT_AUGMENT,
  pitchShift,
  speedPerturb,
} from "../trainer/src/augment/index.js";
import { medianMs } from "./stats.js";

export async function benchAugment(): Promise<Record<string, number>> {
  const sr = 16000;
  const x = new Float32Array(Math.round(3.5 * sr));
  for (let i = 0; i < x.length; i++) {
    x[i] =
      0.3 * Math.sin((2 * Math.PI * 140 * i) / sr) + 0.1 * Math.sin((2 * Math.PI * 1100 * i) / sr);
  }
  const aug = new Augmenter(DEFAULT_AUGMENT);
  const rng = createRng(1);
  return {
    pitch_shift_ms: await medianMs(() => pitchShift(x, 1.5), 20, 3),
    speed_perturb_ms: await medianMs(() => speedPerturb(x, 1.1), 20, 3),
    default_chain_ms: await medianMs(() => aug.augmentWave(x, rng), 40, 5),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) console.log(await benchAugment());

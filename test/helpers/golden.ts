import { readFileSync } from "node:fs";

export const FIXTURES = new URL("../fixtures/", import.meta.url);

export interface GoldenFeatures {
  sr: number;
  params: Record<string, number | string | boolean>;
  input:
    | { kind: "generated"; samples: number[]; n_samples: number }
    | { kind: "file"; path: string; n_samples: number };
  shape: { frames: number };
  mfcc: number[][];
  mel_db: number[][];
  mel_power: number[][];
  delta: number[][];
  delta2: number[][];
}

export function readGolden<T = GoldenFeatures>(name: string): T {
  return JSON.parse(readFileSync(new URL(`golden/${name}.json`, FIXTURES), "utf8")) as T;
}

/** Largest |a - b| between a frame-major matrix and a librosa-layout (rows = coefficients) one. */
export function maxAbsError(frameMajor: Float32Array, rows: number[][]): number {
  const width = rows.length;
  let err = 0;
  for (let c = 0; c < width; c++) {
    const row = rows[c];
    for (let t = 0; t < row.length; t++) {
      err = Math.max(err, Math.abs(frameMajor[t * width + c] - row[t]));
    }
  }
  return err;
}

/** Largest relative error where the reference is above `floor`. */
export function maxRelError(frameMajor: Float32Array, rows: number[][], floor: number): number {
  const width = rows.length;
  let err = 0;
  for (let c = 0; c < width; c++) {
    const row = rows[c];
    for (let t = 0; t < row.length; t++) {
      if (row[t] > floor) {
        err = Math.max(err, Math.abs(frameMajor[t * width + c] - row[t]) / row[t]);
      }
    }
  }
  return err;
}

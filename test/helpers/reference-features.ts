// A deliberately plain float64 implementation of librosa's pipeline for parameter sets the goldens
// do not cover: frames built by hand, fft.js (a maintained FFT, devDependency) for the transform,
// dense filterbank and DCT products. Slow, obvious, independent of the WASM kernel.

import {
  dctOrthoMatrix,
  type FeatureParams,
  melFilterbank,
  periodicWindow,
} from "@ser-edge/agent/features";
import FFT from "fft.js";

export function referenceFeatures(x: ArrayLike<number>, p: FeatureParams) {
  const pad = p.nFft / 2;
  const padded = new Float64Array(x.length + 2 * pad);
  for (let i = 0; i < x.length; i++) padded[pad + i] = x[i];
  const frames = 1 + Math.floor(x.length / p.hopLength);
  const window = periodicWindow(p.window, p.winLength, p.nFft);
  const fb = melFilterbank(p);
  const dct = dctOrthoMatrix(p.nMfcc, p.nMels);
  const fft = new FFT(p.nFft);
  const out = fft.createComplexArray() as number[];
  const frame = new Array<number>(p.nFft).fill(0);
  const melPower = new Float64Array(frames * p.nMels);
  const melDb = new Float64Array(frames * p.nMels);
  for (let t = 0; t < frames; t++) {
    for (let i = 0; i < p.nFft; i++) frame[i] = padded[t * p.hopLength + i] * window[i];
    fft.realTransform(out, frame);
    for (let m = 0; m < p.nMels; m++) {
      let s = 0;
      for (let k = 0; k <= p.nFft / 2; k++) {
        s += fb[m][k] * (out[2 * k] ** 2 + out[2 * k + 1] ** 2);
      }
      melPower[t * p.nMels + m] = s;
      melDb[t * p.nMels + m] =
        10 * Math.log10(Math.max(p.amin, s)) - 10 * Math.log10(Math.max(p.amin, p.refPower));
    }
  }
  if (p.topDb !== null) {
    const floor = Math.max(...melDb) - p.topDb;
    for (let i = 0; i < melDb.length; i++) melDb[i] = Math.max(melDb[i], floor);
  }
  const mfcc = new Float64Array(frames * p.nMfcc);
  for (let t = 0; t < frames; t++) {
    for (let k = 0; k < p.nMfcc; k++) {
      let s = 0;
      for (let m = 0; m < p.nMels; m++) s += dct[k * p.nMels + m] * melDb[t * p.nMels + m];
      mfcc[t * p.nMfcc + k] = s;
    }
  }
  return { frames, melPower, melDb, mfcc };
}

/**
 * A linear-phase low-pass FIR: windowed sinc, Blackman window, normalised to unity gain at 0 Hz.
 * Shared by the pitch tracker's decimator (float32 taps) and Silero's half-band decimator
 * (float64): `h` receives the taps, rounded to its own precision before they are summed for the
 * normalisation, so each caller gets exactly the taps it designed for itself before.
 */
export function blackmanSinc<T extends Float32Array | Float64Array>(h: T, cutoff: number): T {
  const taps = h.length;
  const mid = (taps - 1) / 2;
  let sum = 0;
  for (let k = 0; k < taps; k++) {
    const n = k - mid;
    // cutoff in cycles per sample.
    const sinc = n === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * n) / (Math.PI * n);
    const w =
      0.42 -
      0.5 * Math.cos((2 * Math.PI * k) / (taps - 1)) +
      0.08 * Math.cos((4 * Math.PI * k) / (taps - 1));
    h[k] = sinc * w;
    sum += h[k];
  }
  for (let k = 0; k < taps; k++) h[k] /= sum;
  return h;
}

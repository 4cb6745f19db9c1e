/**
 * Periodic window of `length` samples (scipy get_window(..., fftbins=True), as librosa uses it),
 * optionally centred in `size` samples of zeros (librosa.util.pad_center).
 */
export function periodicWindow(
  kind: "hann" | "hamming",
  length: number,
  size = length,
): Float64Array {
  if (size < length) throw new RangeError(`window of ${length} does not fit in ${size}`);
  const a0 = kind === "hann" ? 0.5 : 0.54;
  const out = new Float64Array(size);
  const offset = Math.floor((size - length) / 2);
  for (let n = 0; n < length; n++) {
    out[offset + n] = a0 - (1 - a0) * Math.cos((2 * Math.PI * n) / length);
  }
  return out;
}

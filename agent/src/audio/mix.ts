/**
 * Mean of all channels, like librosa.to_mono. A single channel is returned as is (no copy).
 * Accumulates in float64 so the result is rounded to float32 once.
 */
export function mixToMono(channels: readonly Float32Array[]): Float32Array {
  if (channels.length === 0) return new Float32Array(0);
  if (channels.length === 1) return channels[0];
  const n = Math.min(...channels.map((c) => c.length));
  const out = new Float32Array(n);
  const k = channels.length;
  for (let i = 0; i < n; i++) {
    let sum = 0;
    for (let c = 0; c < k; c++) sum += channels[c][i];
    out[i] = sum / k;
  }
  return out;
}

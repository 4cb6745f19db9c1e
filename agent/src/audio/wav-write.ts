export type WavSampleFormat = "pcm16" | "float32";

export interface EncodeWavOptions {
  /** Default "pcm16". */
  format?: WavSampleFormat;
}

/**
 * Encode mono samples as a canonical 44-byte-header WAV. pcm16 rounds v * 32768 and clips to
 * the int16 range, so decoding gives back exactly the multiples of 1/32768 that went in.
 */
export function encodeWav(
  samples: Float32Array,
  sampleRate: number,
  options: EncodeWavOptions = {},
): Uint8Array {
  const format = options.format ?? "pcm16";
  const bytesPerSample = format === "pcm16" ? 2 : 4;
  const dataSize = samples.length * bytesPerSample;
  const out = new Uint8Array(44 + dataSize);
  const view = new DataView(out.buffer);
  const text = (at: number, s: string) => {
    for (let i = 0; i < s.length; i++) out[at + i] = s.charCodeAt(i);
  };
  text(0, "RIFF");
  view.setUint32(4, out.length - 8, true);
  text(8, "WAVE");
  text(12, "fmt ");
  view.setUint32(16, 16, true);
  view.setUint16(20, format === "pcm16" ? 1 : 3, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRate, true);
  view.setUint32(28, sampleRate * bytesPerSample, true);
  view.setUint16(32, bytesPerSample, true);
  view.setUint16(34, bytesPerSample * 8, true);
  text(36, "data");
  view.setUint32(40, dataSize, true);
  for (let i = 0, o = 44; i < samples.length; i++, o += bytesPerSample) {
    if (format === "pcm16") {
      view.setInt16(o, Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768))), true);
    } else {
      view.setFloat32(o, samples[i], true);
    }
  }
  return out;
}

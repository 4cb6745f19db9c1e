import { isMpegFrameHeader, skipId3v2 } from "./detect.js";
import { AudioError } from "./errors.js";
import type { DecodedChannels } from "./types.js";

/** Channel count from the first frame header (mode bits 11 = mono); mpg123 always outputs 2. */
function sourceChannels(bytes: Uint8Array): number {
  const at = skipId3v2(bytes);
  if (!isMpegFrameHeader(bytes, at)) return 2;
  return bytes[at + 3] >> 6 === 3 ? 1 : 2;
}

/** Decode MPEG audio (normally MP3). Gapless: the encoder delay and padding are trimmed. */
export async function decodeMp3(bytes: Uint8Array, path: string): Promise<DecodedChannels> {
  // Loaded on the first MP3: a microphone never needs the decoder's WASM (~2 MiB resident).
  const { MPEGDecoder } = await import("mpg123-decoder");
  const decoder = new MPEGDecoder();
  let result: ReturnType<InstanceType<typeof MPEGDecoder>["decode"]>;
  try {
    await decoder.ready;
    result = decoder.decode(bytes);
  } finally {
    decoder.free();
  }
  const { samplesDecoded, sampleRate, errors } = result;
  if (errors.length > 0 || sampleRate === 0 || samplesDecoded === 0) {
    const detail =
      errors.length > 0
        ? `${errors.length} frame error(s), first: ${errors[0].message}`
        : "no audio";
    throw new AudioError(
      "CORRUPT",
      path,
      `MP3 decoding failed (${detail}, ${samplesDecoded} samples); ` +
        "the file is corrupt or not really MP3, re-export it",
    );
  }
  const channels = sourceChannels(bytes);
  // A mono MP3 comes back as two identical channels: keep one rather than averaging.
  const channelData = result.channelData.slice(0, channels);
  return { sampleRate, channelData };
}

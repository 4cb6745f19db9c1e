/**
 * S16_LE bytes to float samples (int / 32768, the same values readAudioFile and encodeWav use),
 * for byte streams cut at arbitrary points: an odd trailing byte is kept for the next push.
 */
export class S16leDecoder {
  private carry = -1;

  /** Bytes held back (0 or 1): half a sample waiting for its other byte. */
  get pendingBytes(): number {
    return this.carry < 0 ? 0 : 1;
  }

  /** Decodes every whole sample in `carry + bytes`. */
  push(bytes: Uint8Array): Float32Array {
    const hasCarry = this.carry >= 0;
    const total = bytes.length + (hasCarry ? 1 : 0);
    const n = total >> 1;
    const out = new Float32Array(n);
    let i = 0;
    let o = 0;
    if (hasCarry && n > 0) {
      out[o++] = toFloat(this.carry | (bytes[0] << 8));
      i = 1;
      this.carry = -1;
    }
    for (; o < n; o++, i += 2) out[o] = toFloat(bytes[i] | (bytes[i + 1] << 8));
    if (i < bytes.length) this.carry = bytes[i];
    return out;
  }

  /** Forgets a pending half sample (a new byte stream starts). */
  reset(): void {
    this.carry = -1;
  }
}

function toFloat(u16: number): number {
  return ((u16 << 16) >> 16) / 32768;
}

/** Float samples to S16_LE bytes, rounding v * 32768 and clipping like encodeWav's pcm16. */
export function encodeS16le(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) {
    view.setInt16(i * 2, Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32768))), true);
  }
  return out;
}

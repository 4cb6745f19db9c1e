/**
 * Just enough of the protobuf wire format to walk an ONNX file without a protobuf library: the
 * agent reads Silero's weights and runs its emotion models itself (graph.ts).
 */
export class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start = 0,
    readonly end = buf.length,
  ) {
    this.pos = start;
  }

  varint(): number {
    let result = 0;
    let scale = 1;
    for (;;) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const b = this.buf[this.pos++];
      result += (b & 0x7f) * scale;
      if (b < 0x80) return result;
      scale *= 128;
      if (scale > 2 ** 63) throw new Error("varint too long");
    }
  }

  /** A varint as a signed 64-bit integer (int64 fields: -1 takes ten bytes). */
  int64(): number {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (this.pos >= this.end) throw new Error("truncated varint");
      const b = this.buf[this.pos++];
      result |= BigInt(b & 0x7f) << shift;
      if (b < 0x80) return Number(BigInt.asIntN(64, result));
      shift += 7n;
      if (shift > 63n) throw new Error("varint too long");
    }
  }

  /** Skips a field's value of wire type `wire`, or returns its [start, end) if length-delimited. */
  value(wire: number): [number, number] | undefined {
    switch (wire) {
      case 0:
        this.varint();
        return undefined;
      case 1:
        this.pos += 8;
        return undefined;
      case 2: {
        const len = this.varint();
        const start = this.pos;
        this.pos += len;
        if (this.pos > this.end) throw new Error("truncated field");
        return [start, this.pos];
      }
      case 5:
        this.pos += 4;
        return undefined;
      default:
        throw new Error(`unsupported protobuf wire type ${wire}`);
    }
  }

  *fields(): Generator<{ field: number; wire: number; span?: [number, number]; at: number }> {
    while (this.pos < this.end) {
      const key = this.varint();
      const field = Math.floor(key / 8);
      const wire = key & 7;
      const at = this.pos;
      const span = this.value(wire);
      yield { field, wire, span, at };
    }
  }
}

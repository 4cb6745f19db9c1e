// The emotion model's kernels for agent/src/model/wasm-engine.ts, which interprets the ONNX
// graph and keeps every tensor of a call in this module's memory.
//
// Quantized convolutions and dense layers: one kernel serves ONNX Conv (1-D, group 1) and Gemm,
// in the form the trainer's int8 export gives them: DequantizeLinear(uint8 activations,
// per-tensor scale and zero point) and DequantizeLinear(int8 weights, per-output-channel scale)
// into the Conv, int32 bias at scale x_scale * w_scale. The products are summed exactly in int32
// (SIMD i32x4.dot_i16x8_s: eight multiply-adds per instruction), then scaled as ONNX Runtime's
// QLinearConv does: (acc + bias) * (x_scale * w_scale[o] / y_scale) rounded half to even, plus
// the output zero point, saturated to uint8 (a following ReLU is the saturation at the zero
// point); or, for a float output, (acc + bias) * (x_scale * w_scale[o]).
//
// Layouts (all set up by the TypeScript side):
//   x      u8 [cin][t] (ONNX's layout)  the input activations; or [t][cin], time-major, as this
//                                       kernel writes its own quantized outputs
//   xw     i16 [pl + t + pr][cinPad]    scratch: x - zero point, time-major, zero-padded in time
//                                       by the Conv's pads and in channels to a multiple of 8
//   w      i16 [cout / 4][k][cinPad / 8][4][8]   weights minus their zero point: for each group
//                                       of four output channels (the last one zero-padded), tap
//                                       by tap and 8 input channels at a time, the four
//                                       channels' 8 weights side by side; input channels
//                                       zero-padded to cinPad
//   bias   i32 [cout rounded up to 4]
//   scale  f32 [cout rounded up to 4]   the multiplier above
//   out    u8 [tout][cout] (time-major: four channels are one store) when quantized,
//          f32 [cout][tout] (ONNX's layout) otherwise

export function heapBase(): usize {
  return __heap_base;
}

// x - zx into the time-major, zero-padded scratch, from channels-first x.
export function widen(
  pX: usize,
  cin: i32,
  t: i32,
  zx: i32,
  pXw: usize,
  cinPad: i32,
  pl: i32,
  pr: i32,
): void {
  const rows = pl + t + pr;
  memory.fill(pXw, 0, <usize>(rows * cinPad) << 1);
  for (let i: i32 = 0; i < cin; i++) {
    const src = pX + <usize>(i * t);
    for (let j: i32 = 0; j < t; j++) {
      store<i16>(pXw + (<usize>((pl + j) * cinPad + i) << 1), <i32>load<u8>(src + <usize>j) - zx);
    }
  }
}

// The same from time-major x [t][cin]: rows are converted sixteen channels at a time.
export function widenTimeMajor(
  pX: usize,
  cin: i32,
  t: i32,
  zx: i32,
  pXw: usize,
  cinPad: i32,
  pl: i32,
  pr: i32,
): void {
  const rows = pl + t + pr;
  memory.fill(pXw, 0, <usize>(rows * cinPad) << 1);
  const z = i16x8.splat(<i16>zx);
  for (let j: i32 = 0; j < t; j++) {
    const src = pX + <usize>(j * cin);
    const dst = pXw + (<usize>((pl + j) * cinPad) << 1);
    let i: i32 = 0;
    for (; i + 16 <= cin; i += 16) {
      const v = v128.load(src + <usize>i);
      v128.store(dst + (<usize>i << 1), i16x8.sub(i16x8.extend_low_i8x16_u(v), z));
      v128.store(dst + (<usize>i << 1), i16x8.sub(i16x8.extend_high_i8x16_u(v), z), 16);
    }
    for (; i < cin; i++) store<i16>(dst + (<usize>i << 1), <i32>load<u8>(src + <usize>i) - zx);
  }
}

// The four lanes' sums of four accumulators, as one vector [sum a0, sum a1, sum a2, sum a3].
@inline
function hsum4(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const x = i32x4.add(i32x4.shuffle(a0, a1, 0, 1, 4, 5), i32x4.shuffle(a0, a1, 2, 3, 6, 7));
  const y = i32x4.add(i32x4.shuffle(a2, a3, 0, 1, 4, 5), i32x4.shuffle(a2, a3, 2, 3, 6, 7));
  return i32x4.add(i32x4.shuffle(x, y, 0, 2, 4, 6), i32x4.shuffle(x, y, 1, 3, 5, 7));
}

// Four channels o..o+3 of frame t from their integer sums.
@inline
function emit4(
  acc: v128,
  o: i32,
  t: i32,
  cout: i32,
  tout: i32,
  pBias: usize,
  pScale: usize,
  pOut: usize,
  quantized: bool,
  zy: i32,
  lo: i32,
  relu: bool,
): void {
  const v = f32x4.mul(
    f32x4.convert_i32x4_s(i32x4.add(acc, v128.load(pBias + (<usize>o << 2)))),
    v128.load(pScale + (<usize>o << 2)),
  );
  if (quantized) {
    // Half to even, then the zero point, saturated to [lo, 255].
    let q = i32x4.add(i32x4.trunc_sat_f32x4_s(f32x4.nearest(v)), i32x4.splat(zy));
    q = i32x4.min_s(i32x4.max_s(q, i32x4.splat(lo)), i32x4.splat(255));
    const bytes = i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_u(q, q), i16x8.splat(0));
    const at = pOut + <usize>(t * cout + o);
    if (o + 3 < cout) {
      v128.store32_lane(at, bytes, 0);
    } else {
      // The last group of a channel count that is not a multiple of 4.
      store<u8>(at, i8x16.extract_lane_u(bytes, 0));
      if (o + 1 < cout) store<u8>(at, i8x16.extract_lane_u(bytes, 1), 1);
      if (o + 2 < cout) store<u8>(at, i8x16.extract_lane_u(bytes, 2), 2);
    }
  } else {
    const r = relu ? f32x4.max(v, f32x4.splat(0)) : v;
    const row = <usize>tout << 2;
    const at = pOut + (<usize>(o * tout + t) << 2);
    store<f32>(at, f32x4.extract_lane(r, 0));
    if (o + 1 < cout) store<f32>(at + row, f32x4.extract_lane(r, 1));
    if (o + 2 < cout) store<f32>(at + 2 * row, f32x4.extract_lane(r, 2));
    if (o + 3 < cout) store<f32>(at + 3 * row, f32x4.extract_lane(r, 3));
  }
}

// out[o][t] for o < cout, t < tout: sum over taps k and channels i of
// xw[t * stride + k * dilation][i] * w[o][k][i]. Four output channels and three output frames
// per pass (twelve accumulators): each input vector is loaded once for four channels, each
// weight vector once for three frames. The weights of four channels are interleaved (see the
// layout above) so that one pointer walks them with constant offsets; channels past cout are
// zero weights whose results are not stored.
export function qconv(
  pXw: usize,
  cinPad: i32,
  pW: usize,
  k: i32,
  cout: i32,
  tout: i32,
  stride: i32,
  dilation: i32,
  pBias: usize,
  pScale: usize,
  pOut: usize,
  quantized: bool,
  zy: i32,
  relu: bool,
): void {
  // A ReLU before quantizing is the saturation at the zero point.
  const lo: i32 = quantized && relu ? zy : 0;
  const rowBytes = <usize>cinPad << 1;
  const vectors = cinPad >> 3; // 16-byte vectors per row
  const blockBytes = <usize>(k * vectors) << 6; // four channels' weights
  const tapStep = <usize>dilation * rowBytes;
  const frameStep = <usize>stride * rowBytes;
  for (let o: i32 = 0; o < cout; o += 4) {
    const wb = pW + <usize>(o >> 2) * blockBytes;
    let t: i32 = 0;
    for (; t + 2 < tout; t += 3) {
      let a00 = i32x4.splat(0), a01 = i32x4.splat(0), a02 = i32x4.splat(0);
      let a10 = i32x4.splat(0), a11 = i32x4.splat(0), a12 = i32x4.splat(0);
      let a20 = i32x4.splat(0), a21 = i32x4.splat(0), a22 = i32x4.splat(0);
      let a30 = i32x4.splat(0), a31 = i32x4.splat(0), a32 = i32x4.splat(0);
      let pw = wb;
      for (let kk: i32 = 0; kk < k; kk++) {
        let px = pXw + <usize>t * frameStep + <usize>kk * tapStep;
        for (let v: i32 = 0; v < vectors; v++, px += 16, pw += 64) {
          const x0 = v128.load(px);
          const x1 = v128.load(px + frameStep);
          const x2 = v128.load(px + 2 * frameStep);
          let w = v128.load(pw);
          a00 = i32x4.add(a00, i32x4.dot_i16x8_s(x0, w));
          a01 = i32x4.add(a01, i32x4.dot_i16x8_s(x1, w));
          a02 = i32x4.add(a02, i32x4.dot_i16x8_s(x2, w));
          w = v128.load(pw, 16);
          a10 = i32x4.add(a10, i32x4.dot_i16x8_s(x0, w));
          a11 = i32x4.add(a11, i32x4.dot_i16x8_s(x1, w));
          a12 = i32x4.add(a12, i32x4.dot_i16x8_s(x2, w));
          w = v128.load(pw, 32);
          a20 = i32x4.add(a20, i32x4.dot_i16x8_s(x0, w));
          a21 = i32x4.add(a21, i32x4.dot_i16x8_s(x1, w));
          a22 = i32x4.add(a22, i32x4.dot_i16x8_s(x2, w));
          w = v128.load(pw, 48);
          a30 = i32x4.add(a30, i32x4.dot_i16x8_s(x0, w));
          a31 = i32x4.add(a31, i32x4.dot_i16x8_s(x1, w));
          a32 = i32x4.add(a32, i32x4.dot_i16x8_s(x2, w));
        }
      }
      emit4(hsum4(a00, a10, a20, a30), o, t, cout, tout, pBias, pScale, pOut, quantized, zy, lo, relu);
      emit4(hsum4(a01, a11, a21, a31), o, t + 1, cout, tout, pBias, pScale, pOut, quantized, zy, lo, relu);
      emit4(hsum4(a02, a12, a22, a32), o, t + 2, cout, tout, pBias, pScale, pOut, quantized, zy, lo, relu);
    }
    for (; t < tout; t++) {
      let a0 = i32x4.splat(0), a1 = i32x4.splat(0), a2 = i32x4.splat(0), a3 = i32x4.splat(0);
      let pw = wb;
      for (let kk: i32 = 0; kk < k; kk++) {
        let px = pXw + <usize>t * frameStep + <usize>kk * tapStep;
        for (let v: i32 = 0; v < vectors; v++, px += 16, pw += 64) {
          const x = v128.load(px);
          a0 = i32x4.add(a0, i32x4.dot_i16x8_s(x, v128.load(pw)));
          a1 = i32x4.add(a1, i32x4.dot_i16x8_s(x, v128.load(pw, 16)));
          a2 = i32x4.add(a2, i32x4.dot_i16x8_s(x, v128.load(pw, 32)));
          a3 = i32x4.add(a3, i32x4.dot_i16x8_s(x, v128.load(pw, 48)));
        }
      }
      emit4(hsum4(a0, a1, a2, a3), o, t, cout, tout, pBias, pScale, pOut, quantized, zy, lo, relu);
    }
  }
}

// DequantizeLinear of a time-major uint8 tensor [t][c] into channels-first float [c][t].
export function dequantizeTimeMajor(pQ: usize, t: i32, c: i32, zp: i32, scale: f32, pOut: usize): void {
  for (let j: i32 = 0; j < t; j++) {
    for (let i: i32 = 0; i < c; i++) {
      const q = <i32>load<u8>(pQ + <usize>(j * c + i));
      store<f32>(pOut + (<usize>(i * t + j) << 2), <f32>(q - zp) * scale);
    }
  }
}

// ---- Quantization -------------------------------------------------------------------------

// QuantizeLinear to uint8: x / scale in float32, rounded half to even, plus the zero point,
// saturated.
export function quantize(pX: usize, n: i32, scale: f32, zp: i32, pOut: usize): void {
  for (let i: i32 = 0; i < n; i++) {
    let q = <i32>nearest<f32>(load<f32>(pX + (<usize>i << 2)) / scale) + zp;
    q = q < 0 ? 0 : q > 255 ? 255 : q;
    store<u8>(pOut + <usize>i, <u8>q);
  }
}

// DequantizeLinear of uint8: (q - zp) * scale.
export function dequantize(pQ: usize, n: i32, zp: i32, scale: f32, pOut: usize): void {
  for (let i: i32 = 0; i < n; i++) {
    store<f32>(pOut + (<usize>i << 2), <f32>(<i32>load<u8>(pQ + <usize>i) - zp) * scale);
  }
}

// ---- Float operators (row-major, up to 4 dimensions) ---------------------------------------

const RELU = 0;
const TANH = 1;
const SIGMOID = 2;
const SQRT = 3;

export function unary(op: i32, pX: usize, n: i32, pOut: usize): void {
  for (let i: i32 = 0; i < n; i++) {
    const v = load<f32>(pX + (<usize>i << 2));
    let r: f32;
    if (op == RELU) r = v > 0 ? v : 0;
    else if (op == TANH) r = Mathf.tanh(v);
    else if (op == SIGMOID) r = 1 / (1 + Mathf.exp(-v));
    else r = Mathf.sqrt(v);
    store<f32>(pOut + (<usize>i << 2), r);
  }
}

const ADD = 0;
const SUB = 1;
const MUL = 2;

@inline
function apply(op: i32, x: f32, y: f32): f32 {
  return op == ADD ? x + y : op == SUB ? x - y : op == MUL ? x * y : x / y;
}

// out[i0][i1][i2][i3] = a[..] op b[..], each operand read with its own strides (in elements;
// 0 along a broadcast dimension). Dimensions and strides are set by setShape first.
let d0: i32 = 1, d1: i32 = 1, d2: i32 = 1, d3: i32 = 1;
let sa0: i32 = 0, sa1: i32 = 0, sa2: i32 = 0, sa3: i32 = 0;
let sb0: i32 = 0, sb1: i32 = 0, sb2: i32 = 0, sb3: i32 = 0;

export function setShape(
  n0: i32, n1: i32, n2: i32, n3: i32,
  a0: i32, a1: i32, a2: i32, a3: i32,
  b0: i32, b1: i32, b2: i32, b3: i32,
): void {
  d0 = n0; d1 = n1; d2 = n2; d3 = n3;
  sa0 = a0; sa1 = a1; sa2 = a2; sa3 = a3;
  sb0 = b0; sb1 = b1; sb2 = b2; sb3 = b3;
}

@inline
function apply4(op: i32, x: v128, y: v128): v128 {
  return op == ADD ? f32x4.add(x, y) : op == SUB ? f32x4.sub(x, y) : op == MUL ? f32x4.mul(x, y) : f32x4.div(x, y);
}

export function binary(op: i32, pA: usize, pB: usize, pOut: usize): void {
  let o: usize = pOut;
  for (let i0: i32 = 0; i0 < d0; i0++) {
    for (let i1: i32 = 0; i1 < d1; i1++) {
      for (let i2: i32 = 0; i2 < d2; i2++) {
        let ia = i0 * sa0 + i1 * sa1 + i2 * sa2;
        let ib = i0 * sb0 + i1 * sb1 + i2 * sb2;
        let i3: i32 = 0;
        if (sa3 == 1 && sb3 == 1) {
          // Both operands contiguous along the last axis (the common case): four at a time.
          for (; i3 + 4 <= d3; i3 += 4) {
            const x = v128.load(pA + (<usize>ia << 2));
            const y = v128.load(pB + (<usize>ib << 2));
            v128.store(o, apply4(op, x, y));
            o += 16;
            ia += 4;
            ib += 4;
          }
        }
        for (; i3 < d3; i3++) {
          store<f32>(o, apply(op, load<f32>(pA + (<usize>ia << 2)), load<f32>(pB + (<usize>ib << 2))));
          o += 4;
          ia += sa3;
          ib += sb3;
        }
      }
    }
  }
}

// out (in output order) = x read with the permuted strides sa0..sa3 over dims d0..d3.
export function transpose(pX: usize, pOut: usize): void {
  let o: usize = pOut;
  for (let i0: i32 = 0; i0 < d0; i0++) {
    for (let i1: i32 = 0; i1 < d1; i1++) {
      for (let i2: i32 = 0; i2 < d2; i2++) {
        let ia = i0 * sa0 + i1 * sa1 + i2 * sa2;
        for (let i3: i32 = 0; i3 < d3; i3++) {
          store<f32>(o, load<f32>(pX + (<usize>ia << 2)));
          o += 4;
          ia += sa3;
        }
      }
    }
  }
}

// Sum over the middle of [outer][red][inner] (contiguous reduced axes), in order.
export function reduceSum(pX: usize, outer: i32, red: i32, inner: i32, pOut: usize): void {
  for (let o: i32 = 0; o < outer; o++) {
    for (let j: i32 = 0; j < inner; j++) {
      let s: f32 = 0;
      let at = o * red * inner + j;
      for (let r: i32 = 0; r < red; r++, at += inner) s += load<f32>(pX + (<usize>at << 2));
      store<f32>(pOut + (<usize>(o * inner + j) << 2), s);
    }
  }
}

// Softmax along the middle of [outer][n][inner].
export function softmax(pX: usize, outer: i32, n: i32, inner: i32, pOut: usize): void {
  for (let o: i32 = 0; o < outer; o++) {
    for (let j: i32 = 0; j < inner; j++) {
      const base = o * n * inner + j;
      let max: f32 = -Infinity;
      for (let k: i32 = 0; k < n; k++) max = Mathf.max(max, load<f32>(pX + (<usize>(base + k * inner) << 2)));
      let sum: f32 = 0;
      for (let k: i32 = 0; k < n; k++) {
        const at = pOut + (<usize>(base + k * inner) << 2);
        const e = Mathf.exp(load<f32>(pX + (<usize>(base + k * inner) << 2)) - max);
        store<f32>(at, e);
        sum += e;
      }
      for (let k: i32 = 0; k < n; k++) {
        const at = pOut + (<usize>(base + k * inner) << 2);
        store<f32>(at, load<f32>(at) / sum);
      }
    }
  }
}

// Average pooling over the last axis of [rows][t], no padding.
export function averagePool(pX: usize, rows: i32, t: i32, kernel: i32, stride: i32, tout: i32, pOut: usize): void {
  for (let r: i32 = 0; r < rows; r++) {
    for (let j: i32 = 0; j < tout; j++) {
      let s: f32 = 0;
      for (let k: i32 = 0; k < kernel; k++) s += load<f32>(pX + (<usize>(r * t + j * stride + k) << 2));
      store<f32>(pOut + (<usize>(r * tout + j) << 2), s / <f32>kernel);
    }
  }
}

// Float 1-D convolution, group 1: x [n][cin][t], w [cout][cin][k], bias [cout] (pB 0: none).
export function convFloat(
  pX: usize, n: i32, cin: i32, t: i32,
  pW: usize, cout: i32, k: i32, pB: usize,
  stride: i32, dilation: i32, pl: i32, tout: i32, pOut: usize,
): void {
  for (let b: i32 = 0; b < n; b++) {
    for (let o: i32 = 0; o < cout; o++) {
      for (let j: i32 = 0; j < tout; j++) {
        let s: f32 = pB ? load<f32>(pB + (<usize>o << 2)) : 0;
        for (let i: i32 = 0; i < cin; i++) {
          for (let kk: i32 = 0; kk < k; kk++) {
            const src = j * stride + kk * dilation - pl;
            if (src < 0 || src >= t) continue;
            s += load<f32>(pX + (<usize>((b * cin + i) * t + src) << 2)) * load<f32>(pW + (<usize>((o * cin + i) * k + kk) << 2));
          }
        }
        store<f32>(pOut + (<usize>((b * cout + o) * tout + j) << 2), s);
      }
    }
  }
}

// Float matrix product: a [m][k] (or [k][m] when transA) times b [k][n] (or [n][k]), times alpha.
export function gemmFloat(
  pA: usize, pB: usize, m: i32, k: i32, n: i32, transA: bool, transB: bool, alpha: f32, pOut: usize,
): void {
  for (let i: i32 = 0; i < m; i++) {
    for (let j: i32 = 0; j < n; j++) {
      let s: f32 = 0;
      for (let q: i32 = 0; q < k; q++) {
        const a = load<f32>(pA + (<usize>(transA ? q * m + i : i * k + q) << 2));
        const b = load<f32>(pB + (<usize>(transB ? j * k + q : q * n + j) << 2));
        s += a * b;
      }
      store<f32>(pOut + (<usize>(i * n + j) << 2), alpha * s);
    }
  }
}

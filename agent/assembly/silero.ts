// Silero VAD v6, 16 kHz branch, run in WebAssembly (float32 + SIMD) instead of ONNX Runtime.
//
// Why: in continuous speech the agent calls Silero 31 times a second, and a call through ONNX
// Runtime costs ~0.1 ms, a third of it fixed per-call and per-node overhead for a network of
// about 0.4 M multiply-adds plus a 264 k multiply-add STFT that an FFT does in a tenth of that
// (BENCHMARKS.md, voice activity). The weights are read from the package's ONNX file by
// agent/src/vad/silero-wasm.ts, transposed and written here; this file is only the forward pass,
// which mirrors the ONNX graph node for node (listed in silero-wasm.ts) and is tested against
// ONNX Runtime window by window.
//
// One call: 576 samples (64 of context + a 512-sample window) and the LSTM state [h(128), c(128)]
// -> speech probability, state updated in place.

const IN: i32 = 576;
const PADDED: i32 = 640; // reflect-padded by 64 on the right
const NFFT: i32 = 256;
const HOP: i32 = 128;
const FRAMES: i32 = 4;
const BINS: i32 = 129;
const H: i32 = 128;

// Byte offsets, set by layout() from the TypeScript side's allocation.
let pWin: usize = 0; // f32[256] periodic Hann
let pCos: usize = 0; // f32[128] twiddles cos(2 pi k / 256)
let pSin: usize = 0; // f32[128]
let pRev: usize = 0; // i32[128] bit reversal of 7 bits
let pW0: usize = 0; // conv0 weights, f32[3][129][128] (tap, in, out)
let pB0: usize = 0; // f32[128]
let pW1: usize = 0; // f32[3][128][64]
let pB1: usize = 0; // f32[64]
let pW2: usize = 0; // f32[3][64][64]
let pB2: usize = 0; // f32[64]
let pW3: usize = 0; // f32[3][64][128]
let pB3: usize = 0; // f32[128]
let pWih: usize = 0; // f32[128][512] (in, gate)
let pWhh: usize = 0; // f32[128][512]
let pBg: usize = 0; // f32[512] bias_ih + bias_hh
let pWd: usize = 0; // f32[128] decoder 1x1 conv
let decBias: f32 = 0;
// Scratch.
let pPad: usize = 0; // f32[640]
let pRe: usize = 0; // f32[128][4]: the four frames' FFTs, interleaved
let pIm: usize = 0; // f32[128][4]
// Layer inputs, channels first with a zero frame at each end (see conv).
let pMag: usize = 0; // f32[129][6]: the STFT magnitude
let pA0: usize = 0; // f32[128][6] conv0 output
let pA1: usize = 0; // f32[64][4]
let pA2: usize = 0; // f32[64][3]
let pA3: usize = 0; // f32[128], conv3's output: the LSTM input
let pG: usize = 0; // f32[512] gates

export function heapBase(): usize {
  return __heap_base;
}

let top: usize = 0;

// Bump allocation, 16-byte aligned for SIMD loads.
function take(floats: i32): usize {
  const at = top;
  top += ((<usize>floats << 2) + 15) & ~15;
  return at;
}

// Lays the tables and scratch out from `base`; returns the first byte past them.
export function layout(base: usize): usize {
  top = (base + 15) & ~15;
  pWin = take(NFFT);
  pCos = take(NFFT / 2);
  pSin = take(NFFT / 2);
  pRev = take(NFFT / 2);
  pW0 = take(3 * BINS * H);
  pB0 = take(H);
  pW1 = take(3 * H * 64);
  pB1 = take(64);
  pW2 = take(3 * 64 * 64);
  pB2 = take(64);
  pW3 = take(3 * 64 * H);
  pB3 = take(H);
  pWih = take(H * 4 * H);
  pWhh = take(H * 4 * H);
  pBg = take(4 * H);
  pWd = take(H);
  pPad = take(PADDED);
  pRe = take(4 * (NFFT >> 1));
  pIm = take(4 * (NFFT >> 1));
  pMag = take(BINS * (FRAMES + 2));
  pA0 = take(H * (FRAMES + 2));
  pA1 = take(64 * 4);
  pA2 = take(64 * 3);
  pA3 = take(H);
  pG = take(4 * H);
  return top;
}

// Where the TypeScript side writes each table (in layout order).
export function tablePointers(which: i32): usize {
  switch (which) {
    case 0: return pWin;
    case 1: return pCos;
    case 2: return pSin;
    case 3: return pRev;
    case 4: return pW0;
    case 5: return pB0;
    case 6: return pW1;
    case 7: return pB1;
    case 8: return pW2;
    case 9: return pB2;
    case 10: return pW3;
    case 11: return pB3;
    case 12: return pWih;
    case 13: return pWhh;
    case 14: return pBg;
    case 15: return pWd;
    default: return 0;
  }
}

export function setDecoderBias(b: f32): void {
  decBias = b;
}

// |rfft(hann * x[f*128 .. f*128+256))| for the 4 frames of the padded input (the graph's STFT
// is a Conv with this very basis). Real FFT of 256 points as a 128-point complex FFT of the
// even (real part) and odd (imaginary part) samples, then split into the 129 bins. The four
// frames go through the FFT side by side, one per SIMD lane ([128][4] scratch rows), and each
// bin's four magnitudes are one store into columns 1..4 of its padded pMag row: every lane
// computes exactly what a scalar FFT of its frame would.
function stft(): void {
  const M: i32 = NFFT >> 1;
  const hop = <usize>HOP << 2;
  for (let n: i32 = 0; n < M; n++) {
    const r = <usize>load<i32>(pRev + (<usize>n << 2)) << 4;
    const e = pPad + (<usize>(2 * n) << 2);
    let xe = f32x4.splat(load<f32>(e));
    xe = f32x4.replace_lane(xe, 1, load<f32>(e + hop));
    xe = f32x4.replace_lane(xe, 2, load<f32>(e + 2 * hop));
    xe = f32x4.replace_lane(xe, 3, load<f32>(e + 3 * hop));
    let xo = f32x4.splat(load<f32>(e, 4));
    xo = f32x4.replace_lane(xo, 1, load<f32>(e + hop, 4));
    xo = f32x4.replace_lane(xo, 2, load<f32>(e + 2 * hop, 4));
    xo = f32x4.replace_lane(xo, 3, load<f32>(e + 3 * hop, 4));
    const pw = pWin + (<usize>(2 * n) << 2);
    v128.store(pRe + r, f32x4.mul(xe, f32x4.splat(load<f32>(pw))));
    v128.store(pIm + r, f32x4.mul(xo, f32x4.splat(load<f32>(pw, 4))));
  }
  for (let size: i32 = 2; size <= M; size <<= 1) {
    const halfSize = size >> 1;
    const step = NFFT / size; // twiddle e^{-2 pi i j / size} = table[j * 256 / size]
    for (let j: i32 = 0; j < halfSize; j++) {
      const c = f32x4.splat(load<f32>(pCos + (<usize>(j * step) << 2)));
      const s = f32x4.splat(load<f32>(pSin + (<usize>(j * step) << 2)));
      for (let start: i32 = 0; start < M; start += size) {
        const a = <usize>(start + j) << 4;
        const b = <usize>(start + j + halfSize) << 4;
        const br = v128.load(pRe + b);
        const bi = v128.load(pIm + b);
        const tr = f32x4.add(f32x4.mul(br, c), f32x4.mul(bi, s));
        const ti = f32x4.sub(f32x4.mul(bi, c), f32x4.mul(br, s));
        const ar = v128.load(pRe + a);
        const ai = v128.load(pIm + a);
        v128.store(pRe + a, f32x4.add(ar, tr));
        v128.store(pIm + a, f32x4.add(ai, ti));
        v128.store(pRe + b, f32x4.sub(ar, tr));
        v128.store(pIm + b, f32x4.sub(ai, ti));
      }
    }
  }
  const rowBytes = <usize>(FRAMES + 2) << 2;
  const out = pMag + 4; // column 1 of the padded rows
  const z0r = v128.load(pRe);
  const z0i = v128.load(pIm);
  v128.store(out, f32x4.abs(f32x4.add(z0r, z0i)));
  v128.store(out + <usize>M * rowBytes, f32x4.abs(f32x4.sub(z0r, z0i)));
  const half = f32x4.splat(0.5);
  for (let k: i32 = 1; k < M; k++) {
    const zr = v128.load(pRe + (<usize>k << 4));
    const zi = v128.load(pIm + (<usize>k << 4));
    const yr = v128.load(pRe + (<usize>(M - k) << 4));
    const yi = f32x4.neg(v128.load(pIm + (<usize>(M - k) << 4))); // conj(Z[M - k])
    const er = f32x4.mul(half, f32x4.add(zr, yr));
    const ei = f32x4.mul(half, f32x4.add(zi, yi));
    // O = (Z - conj(Z[M-k])) / 2i
    const or = f32x4.mul(half, f32x4.sub(zi, yi));
    const oi = f32x4.mul(f32x4.neg(half), f32x4.sub(zr, yr));
    const c = f32x4.splat(load<f32>(pCos + (<usize>k << 2)));
    const s = f32x4.splat(load<f32>(pSin + (<usize>k << 2)));
    // X = E + e^{-2 pi i k / 256} O
    const xr = f32x4.add(f32x4.add(er, f32x4.mul(or, c)), f32x4.mul(oi, s));
    const xi = f32x4.sub(f32x4.add(ei, f32x4.mul(oi, c)), f32x4.mul(or, s));
    v128.store(out + <usize>k * rowBytes, f32x4.sqrt(f32x4.add(f32x4.mul(xr, xr), f32x4.mul(xi, xi))));
  }
}

// Convolutions work on channels-first rows padded with one zero frame at each end, so the taps
// need no bounds checks: `in` is [cin][tin + 2], and output frame t of the layer (kernel 3,
// padding 1) reads padded frames t * stride + k, k = 0..2. The output goes to the next layer's
// padded rows [cout][tout + 2] at frame t + 1 (or, with outPad 0, to plain rows [cout][tout]).
// SIMD runs along 8 output channels (two vectors) for every output frame at once, so each
// weight vector is loaded once per layer and each input value splatted once per 8 channels.
// conv4, conv2 and conv1 are that one loop for 4, 2 and 1 output frames: the accumulators must
// be separate locals to stay in registers, which a frame-count parameter would not allow.
function conv(
  pIn: usize,
  cin: i32,
  tin: i32,
  pW: usize,
  pB: usize,
  cout: i32,
  stride: i32,
  pOut: usize,
  tout: i32,
  outPad: i32,
): void {
  if (tout == 4) conv4(pIn, cin, tin + 2, pW, pB, cout, stride, pOut, tout + 2 * outPad, outPad);
  else if (tout == 2) conv2(pIn, cin, tin + 2, pW, pB, cout, stride, pOut, tout + 2 * outPad, outPad);
  else conv1(pIn, cin, tin + 2, pW, pB, cout, pOut, tout + 2 * outPad, outPad);
}

@inline
function relu(v: v128): v128 {
  return f32x4.max(v, f32x4.splat(0));
}

// The 4 lanes (channels o..o+3) of one frame, to rows [o..o+3] at column `col`.
@inline
function storeColumn(pOut: usize, o: i32, width: i32, col: i32, v: v128): void {
  store<f32>(pOut + (<usize>(o * width + col) << 2), f32x4.extract_lane(v, 0));
  store<f32>(pOut + (<usize>((o + 1) * width + col) << 2), f32x4.extract_lane(v, 1));
  store<f32>(pOut + (<usize>((o + 2) * width + col) << 2), f32x4.extract_lane(v, 2));
  store<f32>(pOut + (<usize>((o + 3) * width + col) << 2), f32x4.extract_lane(v, 3));
}

function conv4(
  pIn: usize,
  cin: i32,
  width: i32,
  pW: usize,
  pB: usize,
  cout: i32,
  stride: i32,
  pOut: usize,
  outWidth: i32,
  outPad: i32,
): void {
  for (let o: i32 = 0; o < cout; o += 8) {
    const b0 = v128.load(pB + (<usize>o << 2));
    const b1 = v128.load(pB + (<usize>o << 2), 16);
    let a00 = b0, a01 = b0, a02 = b0, a03 = b0;
    let a10 = b1, a11 = b1, a12 = b1, a13 = b1;
    for (let k: i32 = 0; k < 3; k++) {
      const wk = pW + (<usize>(k * cin * cout + o) << 2);
      const c0 = <usize>k << 2;
      const c1 = <usize>(stride + k) << 2;
      const c2 = <usize>(2 * stride + k) << 2;
      const c3 = <usize>(3 * stride + k) << 2;
      for (let i: i32 = 0; i < cin; i++) {
        const pw = wk + (<usize>(i * cout) << 2);
        const w0 = v128.load(pw);
        const w1 = v128.load(pw, 16);
        const row = pIn + (<usize>(i * width) << 2);
        const x0 = f32x4.splat(load<f32>(row + c0));
        const x1 = f32x4.splat(load<f32>(row + c1));
        const x2 = f32x4.splat(load<f32>(row + c2));
        const x3 = f32x4.splat(load<f32>(row + c3));
        a00 = f32x4.add(a00, f32x4.mul(w0, x0));
        a01 = f32x4.add(a01, f32x4.mul(w0, x1));
        a02 = f32x4.add(a02, f32x4.mul(w0, x2));
        a03 = f32x4.add(a03, f32x4.mul(w0, x3));
        a10 = f32x4.add(a10, f32x4.mul(w1, x0));
        a11 = f32x4.add(a11, f32x4.mul(w1, x1));
        a12 = f32x4.add(a12, f32x4.mul(w1, x2));
        a13 = f32x4.add(a13, f32x4.mul(w1, x3));
      }
    }
    storeColumn(pOut, o, outWidth, outPad, relu(a00));
    storeColumn(pOut, o, outWidth, outPad + 1, relu(a01));
    storeColumn(pOut, o, outWidth, outPad + 2, relu(a02));
    storeColumn(pOut, o, outWidth, outPad + 3, relu(a03));
    storeColumn(pOut, o + 4, outWidth, outPad, relu(a10));
    storeColumn(pOut, o + 4, outWidth, outPad + 1, relu(a11));
    storeColumn(pOut, o + 4, outWidth, outPad + 2, relu(a12));
    storeColumn(pOut, o + 4, outWidth, outPad + 3, relu(a13));
  }
}

// Two output frames, sixteen output channels per pass (eight independent accumulators).
function conv2(
  pIn: usize,
  cin: i32,
  width: i32,
  pW: usize,
  pB: usize,
  cout: i32,
  stride: i32,
  pOut: usize,
  outWidth: i32,
  outPad: i32,
): void {
  for (let o: i32 = 0; o < cout; o += 16) {
    const pb = pB + (<usize>o << 2);
    const b0 = v128.load(pb);
    const b1 = v128.load(pb, 16);
    const b2 = v128.load(pb, 32);
    const b3 = v128.load(pb, 48);
    let a00 = b0, a10 = b1, a20 = b2, a30 = b3; // frame 0
    let a01 = b0, a11 = b1, a21 = b2, a31 = b3; // frame 1
    for (let k: i32 = 0; k < 3; k++) {
      const wk = pW + (<usize>(k * cin * cout + o) << 2);
      const c0 = <usize>k << 2;
      const c1 = <usize>(stride + k) << 2;
      for (let i: i32 = 0; i < cin; i++) {
        const pw = wk + (<usize>(i * cout) << 2);
        const w0 = v128.load(pw);
        const w1 = v128.load(pw, 16);
        const w2 = v128.load(pw, 32);
        const w3 = v128.load(pw, 48);
        const row = pIn + (<usize>(i * width) << 2);
        const x0 = f32x4.splat(load<f32>(row + c0));
        const x1 = f32x4.splat(load<f32>(row + c1));
        a00 = f32x4.add(a00, f32x4.mul(w0, x0));
        a10 = f32x4.add(a10, f32x4.mul(w1, x0));
        a20 = f32x4.add(a20, f32x4.mul(w2, x0));
        a30 = f32x4.add(a30, f32x4.mul(w3, x0));
        a01 = f32x4.add(a01, f32x4.mul(w0, x1));
        a11 = f32x4.add(a11, f32x4.mul(w1, x1));
        a21 = f32x4.add(a21, f32x4.mul(w2, x1));
        a31 = f32x4.add(a31, f32x4.mul(w3, x1));
      }
    }
    storeColumn(pOut, o, outWidth, outPad, relu(a00));
    storeColumn(pOut, o + 4, outWidth, outPad, relu(a10));
    storeColumn(pOut, o + 8, outWidth, outPad, relu(a20));
    storeColumn(pOut, o + 12, outWidth, outPad, relu(a30));
    storeColumn(pOut, o, outWidth, outPad + 1, relu(a01));
    storeColumn(pOut, o + 4, outWidth, outPad + 1, relu(a11));
    storeColumn(pOut, o + 8, outWidth, outPad + 1, relu(a21));
    storeColumn(pOut, o + 12, outWidth, outPad + 1, relu(a31));
  }
}

// One output frame: padded frames 0..2 of a one- or two-frame input (stride irrelevant).
// Frame 0 is the left padding, and with a one-frame input so is frame 2, so those taps are
// skipped outright (adding their zero products would not change a bit of the sums).
// Sixteen output channels per pass.
function conv1(
  pIn: usize,
  cin: i32,
  width: i32,
  pW: usize,
  pB: usize,
  cout: i32,
  pOut: usize,
  outWidth: i32,
  outPad: i32,
): void {
  const lastTap: i32 = width == 3 ? 1 : 2;
  for (let o: i32 = 0; o < cout; o += 16) {
    const pb = pB + (<usize>o << 2);
    let a0 = v128.load(pb);
    let a1 = v128.load(pb, 16);
    let a2 = v128.load(pb, 32);
    let a3 = v128.load(pb, 48);
    for (let k: i32 = 1; k <= lastTap; k++) {
      const wk = pW + (<usize>(k * cin * cout + o) << 2);
      const c = <usize>k << 2;
      for (let i: i32 = 0; i < cin; i++) {
        const xs = f32x4.splat(load<f32>(pIn + (<usize>(i * width) << 2) + c));
        const pw = wk + (<usize>(i * cout) << 2);
        a0 = f32x4.add(a0, f32x4.mul(v128.load(pw), xs));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(pw, 16), xs));
        a2 = f32x4.add(a2, f32x4.mul(v128.load(pw, 32), xs));
        a3 = f32x4.add(a3, f32x4.mul(v128.load(pw, 48), xs));
      }
    }
    storeColumn(pOut, o, outWidth, outPad, relu(a0));
    storeColumn(pOut, o + 4, outWidth, outPad, relu(a1));
    storeColumn(pOut, o + 8, outWidth, outPad, relu(a2));
    storeColumn(pOut, o + 12, outWidth, outPad, relu(a3));
  }
}

@inline
function sigmoid(x: f32): f32 {
  return 1 / (1 + Mathf.exp(-x));
}

export function process(pInput: usize, pState: usize): f32 {
  // Reflect padding on the right by 64 (the edge sample not repeated).
  memory.copy(pPad, pInput, <usize>IN << 2);
  for (let j: i32 = 0; j < PADDED - IN; j++) {
    store<f32>(pPad + (<usize>(IN + j) << 2), load<f32>(pInput + (<usize>(IN - 2 - j) << 2)));
  }
  stft();
  conv(pMag, BINS, FRAMES, pW0, pB0, H, 1, pA0, FRAMES, 1);
  conv(pA0, H, FRAMES, pW1, pB1, 64, 2, pA1, 2, 1);
  conv(pA1, 64, 2, pW2, pB2, 64, 2, pA2, 1, 1);
  conv(pA2, 64, 1, pW3, pB3, H, 1, pA3, 1, 0);
  // LSTM cell (PyTorch gate order i, f, g, o): gates = W_ih x + W_hh h + b.
  const pH = pState;
  const pC = pState + (<usize>H << 2);
  // Sixteen gates per pass, so each input and state value is splatted once per pass.
  for (let g: i32 = 0; g < 4 * H; g += 16) {
    const pb = pBg + (<usize>g << 2);
    let a0 = v128.load(pb);
    let a1 = v128.load(pb, 16);
    let a2 = v128.load(pb, 32);
    let a3 = v128.load(pb, 48);
    for (let i: i32 = 0; i < H; i++) {
      const row = <usize>(i * 4 * H + g) << 2;
      const x = f32x4.splat(load<f32>(pA3 + (<usize>i << 2)));
      const h = f32x4.splat(load<f32>(pH + (<usize>i << 2)));
      const wi = pWih + row;
      const wh = pWhh + row;
      a0 = f32x4.add(a0, f32x4.add(f32x4.mul(v128.load(wi), x), f32x4.mul(v128.load(wh), h)));
      a1 = f32x4.add(a1, f32x4.add(f32x4.mul(v128.load(wi, 16), x), f32x4.mul(v128.load(wh, 16), h)));
      a2 = f32x4.add(a2, f32x4.add(f32x4.mul(v128.load(wi, 32), x), f32x4.mul(v128.load(wh, 32), h)));
      a3 = f32x4.add(a3, f32x4.add(f32x4.mul(v128.load(wi, 48), x), f32x4.mul(v128.load(wh, 48), h)));
    }
    const pg = pG + (<usize>g << 2);
    v128.store(pg, a0);
    v128.store(pg, a1, 16);
    v128.store(pg, a2, 32);
    v128.store(pg, a3, 48);
  }
  // Gates, cell and decoder four units at a time.
  let dec = f32x4.splat(0);
  for (let j: i32 = 0; j < H; j += 4) {
    const o = <usize>j << 2;
    const gi = sigmoid4(v128.load(pG + o));
    const gf = sigmoid4(v128.load(pG + o + (<usize>H << 2)));
    const gg = tanh4(v128.load(pG + o + (<usize>(2 * H) << 2)));
    const go = sigmoid4(v128.load(pG + o + (<usize>(3 * H) << 2)));
    const c = f32x4.add(f32x4.mul(gf, v128.load(pC + o)), f32x4.mul(gi, gg));
    const h = f32x4.mul(go, tanh4(c));
    v128.store(pC + o, c);
    v128.store(pH + o, h);
    // Decoder: ReLU, then a 1x1 convolution to one channel.
    dec = f32x4.add(dec, f32x4.mul(v128.load(pWd + o), f32x4.max(h, f32x4.splat(0))));
  }
  const logit =
    decBias +
    (f32x4.extract_lane(dec, 0) +
      f32x4.extract_lane(dec, 1) +
      f32x4.extract_lane(dec, 2) +
      f32x4.extract_lane(dec, 3));
  return sigmoid(logit);
}

// e^x for four floats: x = n ln 2 + r with |r| <= ln 2 / 2, e^r by its Taylor polynomial to r^6
// (relative error ~1e-7, float32's own), 2^n added to the exponent bits. x clamped to +-87.
@inline
function exp4(v: v128): v128 {
  const x = f32x4.max(f32x4.min(v, f32x4.splat(87)), f32x4.splat(-87));
  const n = f32x4.nearest(f32x4.mul(x, f32x4.splat(1.4426950408889634)));
  // ln 2 in two parts, so that n * ln2hi is exact.
  const r = f32x4.sub(
    f32x4.sub(x, f32x4.mul(n, f32x4.splat(0.693145751953125))),
    f32x4.mul(n, f32x4.splat(1.428606765330187e-6)),
  );
  let p = f32x4.splat(1.0 / 720);
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 120));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 24));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1.0 / 6));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(0.5));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  p = f32x4.add(f32x4.mul(p, r), f32x4.splat(1));
  return i32x4.add(p, i32x4.shl(i32x4.trunc_sat_f32x4_s(n), 23));
}

@inline
function sigmoid4(x: v128): v128 {
  const one = f32x4.splat(1);
  return f32x4.div(one, f32x4.add(one, exp4(f32x4.neg(x))));
}

// tanh x = 2 sigmoid(2x) - 1 (absolute error ~1e-7 near 0, where tanh is small).
@inline
function tanh4(x: v128): v128 {
  const one = f32x4.splat(1);
  const two = f32x4.splat(2);
  return f32x4.sub(f32x4.div(two, f32x4.add(one, exp4(f32x4.mul(x, f32x4.splat(-2))))), one);
}

// Per-frame feature kernel (AssemblyScript -> WebAssembly, float64 + SIMD).
//
// Why WASM: the budget is ~2.5 us of one core per 10 ms frame (2x faster than librosa here), and a
// float64 512-point FFT in plain JS already costs 3.3 us. Everything here is float64, so librosa
// parity holds (float32 FFTs miss the mel-power tolerance). The tables (window, mel filterbank,
// DCT, FFT twiddles) are computed in TypeScript (agent/src/features), tested against librosa's
// goldens, and written into this module's memory; this file only runs the hot loop. It keeps no
// state between frames beyond scratch buffers, and allocates nothing.

let nFft: i32 = 0;
let half: i32 = 0;
let winLength: i32 = 0;
let nMels: i32 = 0;
let nMfcc: i32 = 0;
let nStages: i32 = 0;
let amin: f64 = 1e-10;
let refDb: f64 = 0;

// Table and scratch pointers (byte offsets into linear memory), laid out by the TypeScript side.
let pWindow: usize = 0; // f64[winLength], the window's non-zero span
let pPerm: usize = 0; // i32[half], DIT input order of the packed complex sequence
let pRadix: usize = 0; // i32[nStages]
let pTw: usize = 0; // f64 twiddle planes, per stage: (r-1) x {cos, sin} x span
let pUnCos: usize = 0; // f64[half + 1]
let pUnSin: usize = 0; // f64[half + 1]
let pMelStart: usize = 0; // i32[nMels], first FFT bin with a non-zero weight
let pMelLen: usize = 0; // i32[nMels], padded to even lengths with zero weights
let pMelOff: usize = 0; // i32[nMels], offset of the band's weights in pMelW (in f64 units)
let pMelW: usize = 0; // f64[]
let pDct: usize = 0; // f64[nMfcc * nMels / 2]: the first half of each DCT row
let pFrame: usize = 0; // f64[nFft] scratch: windowed frame (only the window span is written)
let pRe: usize = 0; // f64[half] scratch
let pIm: usize = 0; // f64[half] scratch
let pPow: usize = 0; // f64[half + 2] scratch; the last bin is always zero
let pDb: usize = 0; // f64[nMels] scratch
let pSum: usize = 0; // f64[nMels / 2] scratch
let pDiff: usize = 0; // f64[nMels / 2] scratch

export function heapBase(): usize {
  return __heap_base;
}

export function configure(
  nFft_: i32,
  winLength_: i32,
  nMels_: i32,
  nMfcc_: i32,
  nStages_: i32,
  amin_: f64,
  refDb_: f64,
): void {
  nFft = nFft_;
  half = nFft_ >> 1;
  winLength = winLength_;
  nMels = nMels_;
  nMfcc = nMfcc_;
  nStages = nStages_;
  amin = amin_;
  refDb = refDb_;
}

export function setTables(
  window: usize,
  perm: usize,
  radix: usize,
  tw: usize,
  unCos: usize,
  unSin: usize,
  melStart: usize,
  melLen: usize,
  melOff: usize,
  melW: usize,
  dct: usize,
): void {
  pWindow = window;
  pPerm = perm;
  pRadix = radix;
  pTw = tw;
  pUnCos = unCos;
  pUnSin = unSin;
  pMelStart = melStart;
  pMelLen = melLen;
  pMelOff = melOff;
  pMelW = melW;
  pDct = dct;
}

export function setScratch(
  frame: usize,
  re: usize,
  im: usize,
  pow: usize,
  db: usize,
  sum: usize,
  diff: usize,
): void {
  pSum = sum;
  pDiff = diff;
  pFrame = frame;
  pRe = re;
  pIm = im;
  pPow = pow;
  pDb = db;
}

/**
 * Computes `count` frames. Frame t's window span starts at float32 sample `src + 4 * t * hop`
 * (the caller has already placed zeros where librosa's centre padding puts them). Writes, per
 * frame, nMels mel powers and nMels unclipped dB values (float32, frame-major) at the given
 * output pointers, and the frame's [min, max] dB at outRange (NaN there flags non-finite input).
 * MFCCs wait for finishUtterance: they depend on the utterance-wide dB clip.
 */
export function frames(
  src: usize,
  hop: i32,
  count: i32,
  outPow: usize,
  outDb: usize,
  outRange: usize,
): void {
  for (let t: i32 = 0; t < count; t++) {
    const s = src + (<usize>(t * hop) << 2);
    windowSpan(s);
    powerSpectrum();
    melAndDb(
      outPow + (<usize>(t * nMels) << 2),
      outDb + (<usize>(t * nMels) << 2),
      outRange + (<usize>t << 3),
    );
  }
}

/**
 * Ends an utterance of `count` frames: the maximum dB over all frames (NaN if any input was not
 * finite), then, when `clip` is set, librosa's top_db floor (max - topDb, in float32 as the dB
 * values are stored) applied in place, then every frame's MFCCs. Returns the maximum.
 */
export function finishUtterance(
  db: usize,
  range: usize,
  mfcc: usize,
  count: i32,
  topDb: f64,
  clip: i32,
): f64 {
  let max: f64 = -Infinity;
  for (let t: i32 = 0; t < count; t++) {
    const hi = <f64>load<f32>(range + (<usize>t << 3), 4);
    if (!(hi < Infinity)) return NaN;
    if (hi > max) max = hi;
  }
  const floor = <f32>(max - topDb);
  for (let t: i32 = 0; t < count; t++) {
    const row = db + (<usize>(t * nMels) << 2);
    const clipRow = clip != 0 && load<f32>(range + (<usize>t << 3)) < floor;
    for (let m: i32 = 0; m < nMels; m++) {
      let v = load<f32>(row + (<usize>m << 2));
      if (clipRow && v < floor) {
        v = floor;
        store<f32>(row + (<usize>m << 2), v);
      }
      store<f64>(pDb + (<usize>m << 3), <f64>v);
    }
    dctFrame(pDb, mfcc + (<usize>(t * nMfcc) << 2));
  }
  return max;
}

// Windows the span at `s` (float32) into pFrame at the span's offset; the rest of pFrame is zero.
function windowSpan(s: usize): void {
  const dst = pFrame + (<usize>((nFft - winLength) >> 1) << 3);
  let i: i32 = 0;
  for (; i + 4 <= winLength; i += 4) {
    const v = v128.load(s + (<usize>i << 2));
    const o = <usize>i << 3;
    v128.store(dst + o, f64x2.mul(f64x2.promote_low_f32x4(v), v128.load(pWindow + o)));
    const hi = i32x4.shuffle(v, v, 2, 3, 0, 1);
    v128.store(dst + o, f64x2.mul(f64x2.promote_low_f32x4(hi), v128.load(pWindow + o, 16)), 16);
  }
  for (; i < winLength; i++) {
    const o = <usize>i << 3;
    store<f64>(dst + o, <f64>load<f32>(s + (<usize>i << 2)) * load<f64>(pWindow + o));
  }
}

function powerSpectrum(): void {
  packFirstStage();
  fftRest();
  // Unpack the real spectrum: X[k] = E[k] + W^k O[k].
  const r0 = load<f64>(pRe);
  const i0 = load<f64>(pIm);
  store<f64>(pPow, (r0 + i0) * (r0 + i0));
  store<f64>(pPow + (<usize>half << 3), (r0 - i0) * (r0 - i0));
  // X[k] and X[half-k] come from the same two values Z[k], Z[half-k]: compute both at once,
  // for k and k+1 in the two SIMD lanes (the mirrored pair is loaded and stored lane-swapped).
  // half >= 8, so half/2 is even and the pairs tile k = 1 .. half/2 exactly.
  const h = f64x2.splat(0.5);
  for (let k: i32 = 1; k <= half >> 1; k += 2) {
    const ok = <usize>k << 3;
    const on = <usize>(half - k - 1) << 3;
    const zr = v128.load(pRe + ok);
    const zi = v128.load(pIm + ok);
    const wr = swap(v128.load(pRe + on));
    const wi = swap(v128.load(pIm + on));
    // E = (Z[k] + conj Z[half-k]) / 2, O = (Z[k] - conj Z[half-k]) / 2i
    const er = f64x2.mul(h, f64x2.add(zr, wr));
    const ei = f64x2.mul(h, f64x2.sub(zi, wi));
    const or = f64x2.mul(h, f64x2.add(zi, wi));
    const oi = f64x2.mul(h, f64x2.sub(wr, zr));
    const c = v128.load(pUnCos + ok);
    const sn = v128.load(pUnSin + ok);
    // W^k O
    const tr = f64x2.sub(f64x2.mul(c, or), f64x2.mul(sn, oi));
    const ti = f64x2.add(f64x2.mul(c, oi), f64x2.mul(sn, or));
    const xr = f64x2.add(er, tr);
    const xi = f64x2.add(ei, ti);
    v128.store(pPow + ok, f64x2.add(f64x2.mul(xr, xr), f64x2.mul(xi, xi)));
    // At half-k: E' = conj E, O' = conj O, W^(half-k) = -conj W^k, so |X| = |E - W^k O|.
    const yr = f64x2.sub(er, tr);
    const yi = f64x2.sub(ei, ti);
    v128.store(pPow + on, swap(f64x2.add(f64x2.mul(yr, yr), f64x2.mul(yi, yi))));
  }
}

@inline
function swap(v: v128): v128 {
  return i64x2.shuffle(v, v, 1, 0);
}

function fftRest(): void {
  let span: i32 = 4;
  let tw = pTw; // the first stage's (unit) twiddles are in the table too: skip them
  tw += <usize>6 << 3;
  for (let s: i32 = 1; s < nStages; s++) {
    const r = load<i32>(pRadix + (<usize>s << 2));
    if (r == 4) {
      radix4(span, tw);
      tw += <usize>(6 * span) << 3;
    } else {
      radix2(span, tw);
      tw += <usize>(2 * span) << 3;
    }
    span *= r;
  }
}

// Packs x[2n] + i x[2n+1] in DIT order and runs the first radix-4 stage (unit twiddles) on it.
// nFft >= 16, so the first stage is always radix 4.
@inline
function packed(d: i32): usize {
  return pFrame + (<usize>load<i32>(pPerm + (<usize>d << 2)) << 4);
}

function packFirstStage(): void {
  for (let g: i32 = 0; g < half; g += 4) {
    const b = pRe + (<usize>g << 3);
    const c = pIm + (<usize>g << 3);
    const q0 = packed(g);
    const q1 = packed(g + 1);
    const q2 = packed(g + 2);
    const q3 = packed(g + 3);
    const a0r = load<f64>(q0);
    const a1r = load<f64>(q1);
    const a2r = load<f64>(q2);
    const a3r = load<f64>(q3);
    const a0i = load<f64>(q0, 8);
    const a1i = load<f64>(q1, 8);
    const a2i = load<f64>(q2, 8);
    const a3i = load<f64>(q3, 8);
    const pr = a0r + a2r;
    const pi = a0i + a2i;
    const qr = a0r - a2r;
    const qi = a0i - a2i;
    const ur = a1r + a3r;
    const ui = a1i + a3i;
    const vr = a1r - a3r;
    const vi = a1i - a3i;
    store<f64>(b, pr + ur);
    store<f64>(c, pi + ui);
    store<f64>(b, pr - ur, 16);
    store<f64>(c, pi - ui, 16);
    store<f64>(b, qr + vi, 8);
    store<f64>(c, qi - vr, 8);
    store<f64>(b, qr - vi, 24);
    store<f64>(c, qi + vr, 24);
  }
}

// Radix-4 DIT stage with span >= 2 (even), two butterflies per SIMD step.
function radix4(span: i32, tw: usize): void {
  const planeBytes = <usize>span << 3;
  const group = span << 2;
  for (let g: i32 = 0; g < half; g += group) {
    for (let j: i32 = 0; j < span; j += 2) {
      const o0 = <usize>(g + j) << 3;
      const o1 = o0 + planeBytes;
      const o2 = o1 + planeBytes;
      const o3 = o2 + planeBytes;
      const t = tw + (<usize>j << 3);
      const c1 = v128.load(t);
      const s1 = v128.load(t + planeBytes);
      const c2 = v128.load(t + 2 * planeBytes);
      const s2 = v128.load(t + 3 * planeBytes);
      const c3 = v128.load(t + 4 * planeBytes);
      const s3 = v128.load(t + 5 * planeBytes);
      const a0r = v128.load(pRe + o0);
      const a0i = v128.load(pIm + o0);
      const b1r = v128.load(pRe + o1);
      const b1i = v128.load(pIm + o1);
      const b2r = v128.load(pRe + o2);
      const b2i = v128.load(pIm + o2);
      const b3r = v128.load(pRe + o3);
      const b3i = v128.load(pIm + o3);
      const a1r = f64x2.sub(f64x2.mul(b1r, c1), f64x2.mul(b1i, s1));
      const a1i = f64x2.add(f64x2.mul(b1r, s1), f64x2.mul(b1i, c1));
      const a2r = f64x2.sub(f64x2.mul(b2r, c2), f64x2.mul(b2i, s2));
      const a2i = f64x2.add(f64x2.mul(b2r, s2), f64x2.mul(b2i, c2));
      const a3r = f64x2.sub(f64x2.mul(b3r, c3), f64x2.mul(b3i, s3));
      const a3i = f64x2.add(f64x2.mul(b3r, s3), f64x2.mul(b3i, c3));
      const pr = f64x2.add(a0r, a2r);
      const pi = f64x2.add(a0i, a2i);
      const qr = f64x2.sub(a0r, a2r);
      const qi = f64x2.sub(a0i, a2i);
      const ur = f64x2.add(a1r, a3r);
      const ui = f64x2.add(a1i, a3i);
      const vr = f64x2.sub(a1r, a3r);
      const vi = f64x2.sub(a1i, a3i);
      v128.store(pRe + o0, f64x2.add(pr, ur));
      v128.store(pIm + o0, f64x2.add(pi, ui));
      v128.store(pRe + o2, f64x2.sub(pr, ur));
      v128.store(pIm + o2, f64x2.sub(pi, ui));
      v128.store(pRe + o1, f64x2.add(qr, vi));
      v128.store(pIm + o1, f64x2.sub(qi, vr));
      v128.store(pRe + o3, f64x2.sub(qr, vi));
      v128.store(pIm + o3, f64x2.add(qi, vr));
    }
  }
}

// Radix-2 DIT stage (only the last stage, when N/2 is not a power of 4; span >= 1).
function radix2(span: i32, tw: usize): void {
  const planeBytes = <usize>span << 3;
  const group = span << 1;
  for (let g: i32 = 0; g < half; g += group) {
    for (let j: i32 = 0; j < span; j++) {
      const o0 = <usize>(g + j) << 3;
      const o1 = o0 + planeBytes;
      const c1 = load<f64>(tw + (<usize>j << 3));
      const s1 = load<f64>(tw + planeBytes + (<usize>j << 3));
      const br = load<f64>(pRe + o1) * c1 - load<f64>(pIm + o1) * s1;
      const bi = load<f64>(pRe + o1) * s1 + load<f64>(pIm + o1) * c1;
      const ar = load<f64>(pRe + o0);
      const ai = load<f64>(pIm + o0);
      store<f64>(pRe + o0, ar + br);
      store<f64>(pIm + o0, ai + bi);
      store<f64>(pRe + o1, ar - br);
      store<f64>(pIm + o1, ai - bi);
    }
  }
}

function melAndDb(outPow: usize, outDb: usize, outRange: usize): void {
  let finite = true;
  for (let m: i32 = 0; m < nMels; m++) {
    const start = load<i32>(pMelStart + (<usize>m << 2));
    const len = load<i32>(pMelLen + (<usize>m << 2));
    const w = pMelW + (<usize>load<i32>(pMelOff + (<usize>m << 2)) << 3);
    const p = pPow + (<usize>start << 3);
    let sum = f64x2.splat(0);
    for (let i: i32 = 0; i < len; i += 2) {
      const o = <usize>i << 3;
      sum = f64x2.add(sum, f64x2.mul(v128.load(w + o), v128.load(p + o)));
    }
    const acc = f64x2.extract_lane(sum, 0) + f64x2.extract_lane(sum, 1);
    store<f32>(outPow + (<usize>m << 2), <f32>acc);
    if (!(acc < Infinity)) finite = false; // NaN or Inf input: must not be hidden by the clamp
    store<f64>(pDb + (<usize>m << 3), acc > amin ? acc : amin);
  }
  // 10 log10(S) - ref, two bands per step (nMels is even).
  const scale = f64x2.splat(10.0 / Math.LN10);
  const ref = f64x2.splat(refDb);
  let lo = f64x2.splat(Infinity);
  let hi = f64x2.splat(-Infinity);
  for (let m: i32 = 0; m < nMels; m += 2) {
    const o = <usize>m << 3;
    const db = f64x2.sub(f64x2.mul(lnPositive(v128.load(pDb + o)), scale), ref);
    lo = f64x2.min(lo, db);
    hi = f64x2.max(hi, db);
    v128.store(pDb + o, db);
    store<f32>(outDb + (<usize>m << 2), <f32>f64x2.extract_lane(db, 0));
    store<f32>(outDb + (<usize>(m + 1) << 2), <f32>f64x2.extract_lane(db, 1));
  }
  let dbMin = Math.min(f64x2.extract_lane(lo, 0), f64x2.extract_lane(lo, 1));
  let dbMax = Math.max(f64x2.extract_lane(hi, 0), f64x2.extract_lane(hi, 1));
  if (!finite) {
    dbMin = NaN;
    dbMax = NaN;
    for (let m: i32 = 0; m < nMels; m++) {
      const v = <f64>load<f32>(outPow + (<usize>m << 2));
      if (!(v < Infinity)) {
        store<f64>(pDb + (<usize>m << 3), v);
        store<f32>(outDb + (<usize>m << 2), <f32>v);
      }
    }
  }
  store<f32>(outRange, <f32>dbMin);
  store<f32>(outRange, <f32>dbMax, 4);
}

// Natural log of two positive, finite, normal doubles (the clamp to amin >= 1e-300 guarantees it):
// x = 2^e m with m in [sqrt(1/2), sqrt(2)), ln m = 2 atanh(f), f = (m-1)/(m+1), |f| < 0.172, so
// the odd series to f^9 is accurate to 1e-9 absolute (1e-8 dB, far below the 2e-3 dB tolerance).
@inline
function lnPositive(x: v128): v128 {
  const mantMask = i64x2.splat(0x000fffffffffffff);
  const one = i64x2.splat(0x3ff0000000000000);
  let m = v128.or(v128.and(x, mantMask), one);
  let e = i64x2.sub(i64x2.shr_u(x, 52), i64x2.splat(1023));
  const big = f64x2.gt(m, f64x2.splat(Math.SQRT2));
  m = v128.bitselect(f64x2.mul(m, f64x2.splat(0.5)), m, big);
  e = i64x2.sub(e, big); // big lanes are all ones (-1): e + 1
  const ef = f64x2.convert_low_i32x4_s(i32x4.shuffle(e, e, 0, 2, 0, 2));
  const f = f64x2.div(f64x2.sub(m, f64x2.splat(1)), f64x2.add(m, f64x2.splat(1)));
  const f2 = f64x2.mul(f, f);
  let p = f64x2.splat(2.0 / 9.0);
  p = f64x2.add(f64x2.mul(p, f2), f64x2.splat(2.0 / 7.0));
  p = f64x2.add(f64x2.mul(p, f2), f64x2.splat(2.0 / 5.0));
  p = f64x2.add(f64x2.mul(p, f2), f64x2.splat(2.0 / 3.0));
  p = f64x2.add(f64x2.mul(p, f2), f64x2.splat(2.0));
  return f64x2.add(f64x2.mul(ef, f64x2.splat(Math.LN2)), f64x2.mul(p, f));
}

// mfcc[k] = sum_m D[k][m] db[m]. DCT-II rows are symmetric (k even) or antisymmetric (k odd)
// about the middle, so with s = db[m] + db[M-1-m] and d = db[m] - db[M-1-m] (m < M/2) each
// coefficient is a half-length dot product: D[k][m] for m < M/2 against s or d. pDct holds
// those half rows (nMfcc x M/2). nMels is even (checked by the caller).
function dctFrame(db: usize, out: usize): void {
  const h = nMels >> 1;
  for (let m: i32 = 0; m < h; m++) {
    const a = load<f64>(db + (<usize>m << 3));
    const b = load<f64>(db + (<usize>(nMels - 1 - m) << 3));
    store<f64>(pSum + (<usize>m << 3), a + b);
    store<f64>(pDiff + (<usize>m << 3), a - b);
  }
  const rowBytes = <usize>h << 3;
  for (let k: i32 = 0; k < nMfcc; k++) {
    const row = pDct + <usize>k * rowBytes;
    const v = (k & 1) == 0 ? pSum : pDiff;
    let acc0 = f64x2.splat(0);
    let acc1 = f64x2.splat(0);
    let m: i32 = 0;
    for (; m + 4 <= h; m += 4) {
      const o = <usize>m << 3;
      acc0 = f64x2.add(acc0, f64x2.mul(v128.load(row + o), v128.load(v + o)));
      acc1 = f64x2.add(acc1, f64x2.mul(v128.load(row + o, 16), v128.load(v + o, 16)));
    }
    let tail: f64 = 0;
    for (; m < h; m++) tail += load<f64>(row + (<usize>m << 3)) * load<f64>(v + (<usize>m << 3));
    const acc = f64x2.add(acc0, acc1);
    store<f32>(
      out + (<usize>k << 2),
      <f32>(f64x2.extract_lane(acc, 0) + f64x2.extract_lane(acc, 1) + tail),
    );
  }
}

// Normalised cross-correlation for the pitch tracker's frame loop (pitchTrack below;
// agent/src/features/pitch.ts holds the plain TypeScript twin this must equal bit for bit):
// span f64[w + hi + 1] at pSpan, w a multiple of 4, e0 the window's energy (summed in order by
// the caller); for every lag in [lo, hi], r[lag] = sum_{n<w} x[n] x[n+lag] /
// sqrt(e0 * max(e_lag, 1e-20)) stored at pR + 8 * lag. Same operation order as the twin: the
// lagged energy slid by a sample per lag, and four partial dot products (n mod 4) summed left
// to right. Two lags are summed side by side: independent chains, the same order within each.
@inline
function nccf(pSpan: usize, w: i32, lo: i32, hi: i32, pR: usize, e0: f64): void {
  let el: f64 = 0;
  for (let n: i32 = 0; n < w; n++) {
    const v = load<f64>(pSpan + (<usize>(n + lo) << 3));
    el += v * v;
  }
  for (let lag: i32 = lo; lag <= hi; lag += 2) {
    if (lag > lo) el += slide(pSpan, lag, w);
    const elA = el;
    const two = lag + 1 <= hi;
    if (two) el += slide(pSpan, lag + 1, w);
    const qa = pSpan + (<usize>lag << 3);
    const qb = qa + 8;
    let a0 = f64x2.splat(0);
    let a1 = f64x2.splat(0);
    let b0 = f64x2.splat(0);
    let b1 = f64x2.splat(0);
    for (let n: i32 = 0; n < w; n += 4) {
      const o = <usize>n << 3;
      const x0 = v128.load(pSpan + o);
      const x1 = v128.load(pSpan + o, 16);
      a0 = f64x2.add(a0, f64x2.mul(x0, v128.load(qa + o)));
      a1 = f64x2.add(a1, f64x2.mul(x1, v128.load(qa + o, 16)));
      b0 = f64x2.add(b0, f64x2.mul(x0, v128.load(qb + o)));
      b1 = f64x2.add(b1, f64x2.mul(x1, v128.load(qb + o, 16)));
    }
    store<f64>(pR + (<usize>lag << 3), sum4(a0, a1) / Math.sqrt(e0 * Math.max(elA, 1e-20)));
    if (two) {
      store<f64>(pR + (<usize>(lag + 1) << 3), sum4(b0, b1) / Math.sqrt(e0 * Math.max(el, 1e-20)));
    }
  }
}

// The lagged window's energy change from lag - 1 to lag.
@inline
function slide(pSpan: usize, lag: i32, w: i32): f64 {
  const out0 = load<f64>(pSpan + (<usize>(lag - 1) << 3));
  const in1 = load<f64>(pSpan + (<usize>(lag - 1 + w) << 3));
  return in1 * in1 - out0 * out0;
}

// ((a.0 + a.1) + b.0) + b.1, the twin's a0 + a1 + a2 + a3.
@inline
function sum4(a: v128, b: v128): f64 {
  return (
    f64x2.extract_lane(a, 0) +
    f64x2.extract_lane(a, 1) +
    f64x2.extract_lane(b, 0) +
    f64x2.extract_lane(b, 1)
  );
}

// Low-pass FIR evaluated at every factor-th sample for the pitch tracker (pitch.ts's
// decimateReference is the TypeScript twin it equals bit for bit): f32 xp at pXp, the signal
// already zero-padded by (taps - 1) / 2 in front and enough zeros behind; f32 h[taps4] at pH,
// the taps zero-padded to a multiple of 4; f32 out[n] at pOut, out[m] = sum_k h[k] xp[m f + k].
// In float32: lane j sums the products of taps k = j mod 4 in order, then (l0 + l1) + (l2 + l3).
// Four outputs at a time, so their four sums are independent chains.
export function firDecimate(pXp: usize, pH: usize, taps4: i32, factor: i32, pOut: usize, n: i32): void {
  const step = <usize>factor << 2;
  let m: i32 = 0;
  for (; m + 3 < n; m += 4) {
    const p0 = pXp + (<usize>(m * factor) << 2);
    const p1 = p0 + step;
    const p2 = p1 + step;
    const p3 = p2 + step;
    let a0 = f32x4.splat(0);
    let a1 = f32x4.splat(0);
    let a2 = f32x4.splat(0);
    let a3 = f32x4.splat(0);
    for (let k: i32 = 0; k < taps4; k += 4) {
      const o = <usize>k << 2;
      const h = v128.load(pH + o);
      a0 = f32x4.add(a0, f32x4.mul(h, v128.load(p0 + o)));
      a1 = f32x4.add(a1, f32x4.mul(h, v128.load(p1 + o)));
      a2 = f32x4.add(a2, f32x4.mul(h, v128.load(p2 + o)));
      a3 = f32x4.add(a3, f32x4.mul(h, v128.load(p3 + o)));
    }
    const po = pOut + (<usize>m << 2);
    store<f32>(po, lanes(a0));
    store<f32>(po, lanes(a1), 4);
    store<f32>(po, lanes(a2), 8);
    store<f32>(po, lanes(a3), 12);
  }
  for (; m < n; m++) {
    const p = pXp + (<usize>(m * factor) << 2);
    let a = f32x4.splat(0);
    for (let k: i32 = 0; k < taps4; k += 4) {
      const o = <usize>k << 2;
      a = f32x4.add(a, f32x4.mul(v128.load(pH + o), v128.load(p + o)));
    }
    store<f32>(pOut + (<usize>m << 2), lanes(a));
  }
}

// (l0 + l1) + (l2 + l3) in float32.
@inline
function lanes(a: v128): f32 {
  return (
    (f32x4.extract_lane(a, 0) + f32x4.extract_lane(a, 1)) +
    (f32x4.extract_lane(a, 2) + f32x4.extract_lane(a, 3))
  );
}

// The pitch tracker's frame loop (pitch.ts's track() is the TypeScript twin it equals bit for
// bit; same float64 operations in the same order). For each of `count` feature frames: the
// span of the decimated f32 signal x[xLen] at pX around the frame (zero past the ends), the
// silence check, nccf into pR, the correlation's peaks at their parabolic vertices (scratch
// f64[2][128] at pPeaks), voicing = min(1, best), and F0 from the shortest lag within the octave
// factor of the best. Writes f64 f0[count] at pF0 (0 when unvoiced or silent) and
// voicing[count] at pVoicing. The signal is widened to f64 once, zero-padded, at pWide
// (f64[w / 2 + xLen + w + maxLag + 2]), and each frame's span is a pointer into it rather than
// a copy; pSpan is for a frame whose span would not fit (none, for centred frames).
let pitchRate: f64 = 0;
let silencePower: f64 = 0;
let voicedThreshold: f64 = 0;
let octaveFactor: f64 = 0;

export function pitchConstants(rate: f64, silence: f64, voiced: f64, octave: f64): void {
  pitchRate = rate;
  silencePower = silence;
  voicedThreshold = voiced;
  octaveFactor = octave;
}

export function pitchTrack(
  pX: usize,
  xLen: i32,
  count: i32,
  hop: f64,
  factor: f64,
  w: i32,
  minLag: i32,
  maxLag: i32,
  pSpan: usize,
  pR: usize,
  pPeaks: usize,
  pF0: usize,
  pVoicing: usize,
  pWide: usize,
): void {
  const spanLength = w + maxLag + 1;
  const front = w >> 1;
  const back = spanLength + 1;
  memory.fill(pWide, 0, <usize>front << 3);
  for (let i: i32 = 0; i < xLen; i++) {
    store<f64>(pWide + (<usize>(front + i) << 3), <f64>load<f32>(pX + (<usize>i << 2)));
  }
  memory.fill(pWide + (<usize>(front + xLen) << 3), 0, <usize>back << 3);
  const pLag = pPeaks;
  const pVal = pPeaks + 1024;
  for (let t: i32 = 0; t < count; t++) {
    const at = (<f64>t * hop) / factor;
    let rounded = Math.floor(at);
    if (at - rounded >= 0.5) rounded += 1; // JavaScript's Math.round
    const start = <i32>rounded - front;
    let span: usize;
    if (start >= -front && start + spanLength <= xLen + back) {
      span = pWide + (<usize>(start + front) << 3);
    } else {
      span = pSpan;
      for (let i: i32 = 0; i < spanLength; i++) {
        const j = start + i;
        store<f64>(span + (<usize>i << 3), j >= 0 && j < xLen ? <f64>load<f32>(pX + (<usize>j << 2)) : 0);
      }
    }
    store<f64>(pF0 + (<usize>t << 3), 0);
    store<f64>(pVoicing + (<usize>t << 3), 0);
    let e0: f64 = 0;
    for (let n: i32 = 0; n < w; n++) {
      const v = load<f64>(span + (<usize>n << 3));
      e0 += v * v;
    }
    if (e0 / <f64>w < silencePower) continue;
    nccf(span, w, minLag - 1, maxLag + 1, pR, e0);
    let peaks: i32 = 0;
    let best: f64 = 0;
    for (let lag: i32 = minLag; lag <= maxLag; lag++) {
      const b = load<f64>(pR + (<usize>lag << 3));
      const a = load<f64>(pR + (<usize>(lag - 1) << 3));
      const c = load<f64>(pR + (<usize>(lag + 1) << 3));
      if (!(b > 0 && b >= a && b >= c)) continue;
      const den = a - 2 * b + c;
      const delta = den < 0 ? Math.max(-0.5, Math.min(0.5, (0.5 * (a - c)) / den)) : 0;
      const value = b - 0.25 * (a - c) * delta;
      store<f64>(pLag + (<usize>peaks << 3), <f64>lag + delta);
      store<f64>(pVal + (<usize>peaks << 3), value);
      best = Math.max(best, value);
      peaks++;
    }
    const voicing = Math.min(1, best);
    store<f64>(pVoicing + (<usize>t << 3), voicing);
    if (voicing >= voicedThreshold) {
      for (let k: i32 = 0; k < peaks; k++) {
        if (load<f64>(pVal + (<usize>k << 3)) >= octaveFactor * best) {
          store<f64>(pF0 + (<usize>t << 3), pitchRate / load<f64>(pLag + (<usize>k << 3)));
          break;
        }
      }
    }
  }
}

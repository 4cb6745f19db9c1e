/**
 * librosa.feature.delta (Savitzky-Golay, mode='interp', polyorder = order) on a frame-major
 * matrix (frames x width). Interior frames use the symmetric least-squares derivative; the first
 * and last (w-1)/2 frames take the derivative of the polynomial fitted to the first (last) w
 * frames, which for a line's slope or a parabola's curvature is the value at the nearest interior
 * frame. librosa refuses utterances shorter than the window; here the window shrinks to the
 * largest odd length that fits (>= 3), and fewer than 3 frames give zeros.
 */
export function deltas(x: Float32Array, width: number, order: 1 | 2, window = 9): Float32Array {
  const frames = x.length / width;
  const out = new Float32Array(x.length);
  let w = Math.min(window, frames % 2 === 1 ? frames : frames - 1);
  if (w < 3) return out;
  if (w % 2 === 0) w -= 1;
  const h = (w - 1) / 2;
  const coef = savgolCoefficients(h, order);
  for (let t = h; t < frames - h; t++) {
    for (let c = 0; c < width; c++) {
      let acc = 0;
      for (let k = -h; k <= h; k++) acc += coef[k + h] * x[(t + k) * width + c];
      out[t * width + c] = acc;
    }
  }
  const first = out.slice(h * width, (h + 1) * width);
  const last = out.slice((frames - h - 1) * width, (frames - h) * width);
  for (let t = 0; t < h; t++) {
    out.set(first, t * width);
    out.set(last, (frames - 1 - t) * width);
  }
  return out;
}

/** Centre-point derivative weights of a least-squares line (order 1) or parabola (order 2). */
function savgolCoefficients(h: number, order: 1 | 2): Float64Array {
  const n = 2 * h + 1;
  let s2 = 0;
  let s4 = 0;
  for (let k = -h; k <= h; k++) {
    s2 += k * k;
    s4 += k ** 4;
  }
  const coef = new Float64Array(n);
  for (let k = -h; k <= h; k++) {
    // Slope: sum k x / sum k^2. Curvature 2a of y = a k^2 + b k + c: 2 (n k^2 - s2) / (n s4 - s2^2).
    coef[k + h] = order === 1 ? k / s2 : (2 * (n * k * k - s2)) / (n * s4 - s2 * s2);
  }
  return coef;
}

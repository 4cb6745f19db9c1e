import type { SpeexModule } from "@echogarden/speex-resampler-wasm/simd";

/** Speex quality 0..10; 10 keeps the passband flat to ~0.1 dB and aliases below -60 dB. */
const QUALITY = 10;

let modulePromise: Promise<SpeexModule> | undefined;
let speex: SpeexModule | undefined;

/** Load the WASM resampler once; later calls return the same promise. */
export function initResampler(): Promise<void> {
  // Imported here, not at load: a 16 kHz microphone never needs the resampler.
  modulePromise ??= import("@echogarden/speex-resampler-wasm/simd").then(async (mod) => {
    const m = await mod.default();
    speex = m;
    return m;
  });
  return modulePromise.then(() => undefined);
}

function checkRate(name: string, rate: number): void {
  if (!Number.isInteger(rate) || rate <= 0 || rate > 0x7fffffff) {
    throw new RangeError(`${name} must be a positive integer number of Hz, got ${rate}`);
  }
}

/** Output length for a rate change; exact, so durations agree with librosa/soxr. */
export function resampledLength(inputLength: number, fromRate: number, toRate: number): number {
  return Math.round((inputLength * toRate) / fromRate);
}

/**
 * Resample mono audio synchronously; call `await initResampler()` first. Returns the input
 * itself when the rates match. The filter delay is removed (skip_zeros + zero padding of the
 * input latency), so output sample k lines up with time k / toRate and the tail is kept.
 */
export function resampleSync(
  samples: Float32Array,
  fromRate: number,
  toRate: number,
): Float32Array {
  checkRate("fromRate", fromRate);
  checkRate("toRate", toRate);
  if (fromRate === toRate) return samples;
  const m = speex;
  if (!m) throw new Error("resampler not initialised: await initResampler() first");

  const outLength = resampledLength(samples.length, fromRate, toRate);
  const ptrs: number[] = [];
  const alloc = (bytes: number) => {
    const p = m._malloc(bytes);
    if (p === 0) throw new Error(`resampler: out of WASM memory allocating ${bytes} bytes`);
    ptrs.push(p);
    return p;
  };
  let state = 0;
  try {
    const errPtr = alloc(4);
    state = m._speex_resampler_init(1, fromRate, toRate, QUALITY, errPtr);
    if (state === 0) {
      throw new Error(`resampler init failed (speex error ${m.HEAP32[errPtr >> 2]})`);
    }
    m._speex_resampler_skip_zeros(state);
    const latency = m._speex_resampler_get_input_latency(state);
    const inTotal = samples.length + latency;
    const outCapacity = Math.ceil((inTotal * toRate) / fromRate) + 16;
    const inPtr = alloc(inTotal * 4);
    const outPtr = alloc(outCapacity * 4);
    const inLenPtr = alloc(4);
    const outLenPtr = alloc(4);
    // Heap views can be replaced when malloc grows memory, so read them only after allocating.
    m.HEAPF32.set(samples, inPtr >> 2);
    m.HEAPF32.fill(0, (inPtr >> 2) + samples.length, (inPtr >> 2) + inTotal);

    let consumed = 0;
    let produced = 0;
    while (consumed < inTotal && produced < outCapacity) {
      m.HEAPU32[inLenPtr >> 2] = inTotal - consumed;
      m.HEAPU32[outLenPtr >> 2] = outCapacity - produced;
      m._speex_resampler_process_float(
        state,
        0,
        inPtr + consumed * 4,
        inLenPtr,
        outPtr + produced * 4,
        outLenPtr,
      );
      const usedIn = m.HEAPU32[inLenPtr >> 2];
      const usedOut = m.HEAPU32[outLenPtr >> 2];
      if (usedIn === 0 && usedOut === 0) break;
      consumed += usedIn;
      produced += usedOut;
    }
    const out = new Float32Array(outLength);
    const keep = Math.min(produced, outLength);
    out.set(m.HEAPF32.subarray(outPtr >> 2, (outPtr >> 2) + keep));
    return out;
  } finally {
    if (state !== 0) m._speex_resampler_destroy(state);
    for (const p of ptrs) m._free(p);
  }
}

/** Resample mono audio from `fromRate` to `toRate` (default 16 kHz). */
export async function resample(
  samples: Float32Array,
  fromRate: number,
  toRate = 16000,
): Promise<Float32Array> {
  // Audio already at the rate never loads the WASM module (its code and 16 MiB memory).
  if (fromRate === toRate) return samples;
  await initResampler();
  return resampleSync(samples, fromRate, toRate);
}

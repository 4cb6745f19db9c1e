// Minimal typing for the raw Emscripten module; only the members resample.ts uses.
declare module "@echogarden/speex-resampler-wasm/simd" {
  export interface SpeexModule {
    HEAP32: Int32Array;
    HEAPU32: Uint32Array;
    HEAPF32: Float32Array;
    _malloc(bytes: number): number;
    _free(ptr: number): void;
    _speex_resampler_init(
      channels: number,
      inRate: number,
      outRate: number,
      quality: number,
      errPtr: number,
    ): number;
    _speex_resampler_destroy(state: number): void;
    _speex_resampler_skip_zeros(state: number): number;
    _speex_resampler_get_input_latency(state: number): number;
    _speex_resampler_process_float(
      state: number,
      channel: number,
      inPtr: number,
      inLenPtr: number,
      outPtr: number,
      outLenPtr: number,
    ): number;
  }
  const createSpeexModule: (moduleArg?: object) => Promise<SpeexModule>;
  export default createSpeexModule;
}

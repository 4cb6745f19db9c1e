/** Median wall time in ms of `fn` over `runs` runs after `warmup` runs. */
export async function medianMs(
  fn: () => unknown | Promise<unknown>,
  runs = 20,
  warmup = 5,
): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const mid = times.length >> 1;
  return times.length % 2 ? times[mid] : (times[mid - 1] + times[mid]) / 2;
}

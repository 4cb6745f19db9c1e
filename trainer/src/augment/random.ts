/**
 * A small seeded PRNG (mulberry32) so that augmentation, shuffling and initialisation in the
 * trainer are reproducible from one integer seed. Not cryptographic; 2^32 period is plenty for
 * drawing a few hundred numbers per clip.
 */
export class Rng {
  private state: number;
  /** Second Box-Muller variate, kept so normal() costs one log/sqrt per two draws. */
  private spare: number | undefined;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`seed must be a finite number, got ${seed}`);
    this.state = seed >>> 0;
  }

  /** Next raw 32-bit unsigned integer. */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform in [min, max) (default [0, 1)). */
  uniform(min = 0, max = 1): number {
    return min + (max - min) * (this.nextUint32() / 4294967296);
  }

  /** Gaussian with the given mean and standard deviation (Box-Muller). */
  normal(mean = 0, std = 1): number {
    if (this.spare !== undefined) {
      const z = this.spare;
      this.spare = undefined;
      return mean + std * z;
    }
    // 1 - u keeps the argument of log in (0, 1].
    const u = 1 - this.uniform();
    const v = this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return mean + std * r * Math.cos(2 * Math.PI * v);
  }

  /**
   * Gamma(shape, 1) by Marsaglia and Tsang; shapes below 1 are boosted (Gamma(a+1) * U^(1/a)),
   * which mixup's Beta(0.2..0.4) needs.
   */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) return this.gamma(shape + 1) * (1 - this.uniform()) ** (1 / shape);
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = 1 - this.uniform();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }

  /** Beta(a, b) from two gamma draws. */
  beta(a: number, b: number): number {
    const x = this.gamma(a);
    return x / (x + this.gamma(b));
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`int(n) needs a positive integer`);
    return Math.floor(this.uniform() * n);
  }

  /** Uniform integer in [min, max], both ends included. */
  intBetween(min: number, max: number): number {
    return min + this.int(max - min + 1);
  }

  /** True with probability p. */
  chance(p: number): boolean {
    return this.uniform() < p;
  }

  /** A uniformly chosen element; throws on an empty array. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError("pick() from an empty array");
    return items[this.int(items.length)];
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const tmp = items[i];
      items[i] = items[j];
      items[j] = tmp;
    }
    return items;
  }

  /** An independent generator seeded from this one (e.g. one per clip or per worker). */
  fork(): Rng {
    return new Rng(this.nextUint32());
  }
}

/** Convenience constructor. */
export function createRng(seed: number): Rng {
  return new Rng(seed);
}

/**
 * A 32-bit seed from any strings/numbers (FNV-1a), e.g. `seedFrom(runSeed, epoch, clip.path)`,
 * so each clip's augmentation is reproducible regardless of the order clips are visited in.
 */
export function seedFrom(...parts: ReadonlyArray<string | number>): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const s = `${String(part)}\u0000`;
    for (let i = 0; i < s.length; i++) {
      h ^= s.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
  }
  return h >>> 0;
}

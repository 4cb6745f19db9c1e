/**
 * Stage (a) of voice activity detection: a per-frame energy gate over an adaptive noise floor.
 * It costs one multiply-add per sample and keeps the trained VAD (stage b) asleep while the
 * room is quiet or the noise is steady.
 *
 * Frame energy is in dBFS (10 log10 of the mean square; a full-scale sine is -3 dBFS), after a
 * high-pass at `highPassHz`. The
 * noise floor is a minimum statistic: the lowest frame energy of the last `floorWindowMs`,
 * kept as per-block minima, so it follows a noise that gets louder within that window and one
 * that gets quieter at once, while speech (which has pauses) does not lift it (until the window
 * has been filled once, `initialFloorDb` stands in for the older blocks). The gate opens
 * on a frame `openDb` above the floor (and above `minLevelDb`) and stays open `holdMs` after the
 * last such frame.
 */
export interface EnergyGateOptions {
  /** Samples per frame (default 160: 10 ms at 16 kHz). */
  frameSamples: number;
  sampleRate: number;
  /** Margin above the noise floor that opens the gate. Default 5 dB. */
  openDb: number;
  /** Frames quieter than this never open the gate (dBFS). Default -60. */
  minLevelDb: number;
  /** The gate stays open this long after the last loud frame. Default 300 ms. */
  holdMs: number;
  /** Noise-floor memory. Default 2,000 ms. */
  floorWindowMs: number;
  /** Granularity of that memory. Default 100 ms. */
  floorBlockMs: number;
  /**
   * Floor assumed until `floorWindowMs` of audio has been seen (dBFS), so that speech at the
   * very start of a stream opens the gate. Default -90.
   */
  initialFloorDb: number;
  /**
   * Energy is measured after a 2nd-order Butterworth high-pass at this frequency (0: none).
   * Rumble (traffic, HVAC, handling, the 1/f part of pink noise) carries much of a room's
   * noise power and makes frame energies swing; speech has little below 100 Hz. Default 100.
   */
  highPassHz: number;
}

export const DEFAULT_GATE_OPTIONS: EnergyGateOptions = {
  frameSamples: 160,
  sampleRate: 16000,
  openDb: 5,
  minLevelDb: -60,
  holdMs: 300,
  floorWindowMs: 2000,
  floorBlockMs: 100,
  initialFloorDb: -90,
  highPassHz: 100,
};

/** What the gate says about one frame. */
export interface GateFrame {
  open: boolean;
  /** Frame energy, dBFS. */
  energyDb: number;
  /** Noise floor after this frame, dBFS. */
  floorDb: number;
}

const SILENT_DB = -120;

export class EnergyGate {
  readonly options: EnergyGateOptions;
  private readonly holdFrames: number;
  private readonly blockFrames: number;
  /** Minimum of each completed block, oldest first (ring). */
  private readonly blockMins: Float64Array;
  private blocksFilled = 0;
  private blockHead = 0;
  private currentMin = Number.POSITIVE_INFINITY;
  private framesInBlock = 0;
  private holdLeft = 0;
  private lastOpen = false;
  private floor: number;
  /** High-pass biquad (direct form I): b0 b1 b2 a1 a2 and its state. */
  private readonly hp: Float64Array | undefined;
  private x1 = 0;
  private x2 = 0;
  private y1 = 0;
  private y2 = 0;

  constructor(options: Partial<EnergyGateOptions> = {}) {
    this.options = { ...DEFAULT_GATE_OPTIONS, ...options };
    const { frameSamples, sampleRate, holdMs, floorWindowMs, floorBlockMs } = this.options;
    if (!(frameSamples > 0) || !(sampleRate > 0)) throw new RangeError("bad frame size or rate");
    const frameMs = (frameSamples * 1000) / sampleRate;
    this.holdFrames = Math.round(holdMs / frameMs);
    this.blockFrames = Math.max(1, Math.round(floorBlockMs / frameMs));
    this.blockMins = new Float64Array(Math.max(1, Math.round(floorWindowMs / floorBlockMs)));
    this.floor = this.options.initialFloorDb;
    const fc = this.options.highPassHz;
    if (fc > 0) {
      if (!(fc < sampleRate / 2))
        throw new RangeError(`highPassHz must be below ${sampleRate / 2}`);
      // RBJ cookbook high-pass, Q = 1/sqrt(2) (Butterworth).
      const w = (2 * Math.PI * fc) / sampleRate;
      const alpha = Math.sin(w) / (2 * Math.SQRT1_2);
      const cos = Math.cos(w);
      const a0 = 1 + alpha;
      this.hp = Float64Array.of(
        (1 + cos) / 2 / a0,
        -(1 + cos) / a0,
        (1 + cos) / 2 / a0,
        (-2 * cos) / a0,
        (1 - alpha) / a0,
      );
    }
  }

  /** What the gate said about the last frame. */
  get isOpen(): boolean {
    return this.lastOpen;
  }

  /** Current noise floor estimate (dBFS); initialFloorDb before the first frame. */
  get floorDb(): number {
    return this.floor;
  }

  reset(): void {
    this.blocksFilled = 0;
    this.blockHead = 0;
    this.currentMin = Number.POSITIVE_INFINITY;
    this.framesInBlock = 0;
    this.holdLeft = 0;
    this.lastOpen = false;
    this.floor = this.options.initialFloorDb;
    this.x1 = 0;
    this.x2 = 0;
    this.y1 = 0;
    this.y2 = 0;
  }

  /** Energy of one frame in dBFS. */
  static energyDb(frame: ArrayLike<number>, start = 0, length = frame.length): number {
    let sum = 0;
    for (let i = start; i < start + length; i++) {
      const v = frame[i];
      sum += v * v;
    }
    return sum > 0 ? Math.max(SILENT_DB, 10 * Math.log10(sum / length)) : SILENT_DB;
  }

  /** Judges the frame at frame[start .. start + frameSamples); frames must come in order. */
  process(frame: ArrayLike<number>, start = 0): GateFrame {
    const energyDb = this.hp
      ? this.filteredEnergyDb(frame, start, this.options.frameSamples, this.hp)
      : EnergyGate.energyDb(frame, start, this.options.frameSamples);
    // The floor before this frame judges it, so a loud onset is not part of its own floor.
    const floorBefore = Math.min(this.floor, energyDb);
    const loud =
      energyDb >= this.options.minLevelDb && energyDb >= floorBefore + this.options.openDb;
    if (loud) this.holdLeft = this.holdFrames + 1;
    const open = this.holdLeft > 0;
    if (this.holdLeft > 0) this.holdLeft--;
    this.lastOpen = open;
    this.updateFloor(energyDb);
    return { open, energyDb, floorDb: this.floor };
  }

  private filteredEnergyDb(
    x: ArrayLike<number>,
    start: number,
    length: number,
    c: Float64Array,
  ): number {
    const b0 = c[0];
    const b1 = c[1];
    const b2 = c[2];
    const a1 = c[3];
    const a2 = c[4];
    let { x1, x2, y1, y2 } = this;
    let sum = 0;
    for (let i = start; i < start + length; i++) {
      const x0 = x[i];
      const y0 = b0 * x0 + b1 * x1 + b2 * x2 - a1 * y1 - a2 * y2;
      x2 = x1;
      x1 = x0;
      y2 = y1;
      y1 = y0;
      sum += y0 * y0;
    }
    // Flush denormals and any non-finite input out of the filter state.
    if (!Number.isFinite(y1) || Math.abs(y1) < 1e-30) y1 = 0;
    if (!Number.isFinite(y2) || Math.abs(y2) < 1e-30) y2 = 0;
    if (!Number.isFinite(x1)) x1 = 0;
    if (!Number.isFinite(x2)) x2 = 0;
    this.x1 = x1;
    this.x2 = x2;
    this.y1 = y1;
    this.y2 = y2;
    return sum > 0 ? Math.max(SILENT_DB, 10 * Math.log10(sum / length)) : SILENT_DB;
  }

  private updateFloor(energyDb: number): void {
    if (energyDb < this.currentMin) this.currentMin = energyDb;
    if (++this.framesInBlock === this.blockFrames) {
      const n = this.blockMins.length;
      this.blockMins[(this.blockHead + this.blocksFilled) % n] = this.currentMin;
      if (this.blocksFilled < n) this.blocksFilled++;
      else this.blockHead = (this.blockHead + 1) % n;
      this.currentMin = Number.POSITIVE_INFINITY;
      this.framesInBlock = 0;
    }
    const n = this.blockMins.length;
    let floor =
      this.blocksFilled < n
        ? Math.min(this.currentMin, this.options.initialFloorDb)
        : this.currentMin;
    for (let k = 0; k < this.blocksFilled; k++) {
      const v = this.blockMins[(this.blockHead + k) % n];
      if (v < floor) floor = v;
    }
    this.floor = floor;
  }
}

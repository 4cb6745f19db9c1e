/**
 * Process health figures for the status message: CPU use since the previous reading (all
 * threads: ONNX Runtime's included; 100 = one core busy) and resident memory.
 */
export class CpuMeter {
  private lastCpu: NodeJS.CpuUsage;
  private lastWall: number;

  constructor() {
    // The first reading covers the process's life so far.
    this.lastCpu = { user: 0, system: 0 };
    this.lastWall = performance.timeOrigin;
  }

  /** Percent of one core used since the last call (or since the process started). */
  percent(): number {
    const cpu = process.cpuUsage();
    const wall = performance.timeOrigin + performance.now();
    const usedUs = cpu.user - this.lastCpu.user + (cpu.system - this.lastCpu.system);
    const wallMs = wall - this.lastWall;
    this.lastCpu = cpu;
    this.lastWall = wall;
    return wallMs > 0 ? Math.round((usedUs / 10 / wallMs) * 10) / 10 : 0;
  }
}

/** Resident set size in MiB, one decimal. */
export function rssMb(): number {
  return Math.round((process.memoryUsage.rss() / 1048576) * 10) / 10;
}

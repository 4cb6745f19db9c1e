/**
 * A progress line for long work: redrawn in place on a terminal, a line per 10% otherwise (logs,
 * CI). Goes to the same sink as the rest of the log.
 */
export class Progress {
  private done_ = 0;
  private lastDecile = -1;
  private readonly started = performance.now();
  private readonly tty = Boolean(process.stderr.isTTY);

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly log: (line: string) => void,
  ) {}

  tick(n = 1): void {
    this.done_ += n;
    if (this.tty) {
      const width = 30;
      const filled = Math.round((width * this.done_) / Math.max(1, this.total));
      process.stderr.write(
        `\r${this.label} [${"#".repeat(filled)}${" ".repeat(width - filled)}] ${this.done_}/${this.total}`,
      );
      return;
    }
    const decile = Math.floor((10 * this.done_) / Math.max(1, this.total));
    if (decile !== this.lastDecile && decile < 10) {
      this.lastDecile = decile;
      if (decile > 0) this.log(`${this.label}: ${this.done_}/${this.total}`);
    }
  }

  done(): void {
    if (this.tty) process.stderr.write("\n");
    const s = (performance.now() - this.started) / 1000;
    this.log(`${this.label}: ${this.total} in ${s.toFixed(1)} s`);
  }
}

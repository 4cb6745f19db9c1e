// A real `ser-agent run` process for the rollout tests: spawned from the sources, its JSON log
// lines parsed as they arrive, raw PCM fed on stdin when asked.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../runtime/bundle.js";

export interface LogLine {
  level: string;
  msg: string;
  [key: string]: unknown;
}

export class AgentProcess {
  readonly lines: LogLine[] = [];
  readonly exited: Promise<{ code: number | null; signal: string | null }>;
  private readonly child: ChildProcess;
  private stderr = "";
  private partial = "";

  constructor(args: string[], env: Record<string, string> = {}) {
    this.child = spawn(
      process.execPath,
      [
        "--conditions=source",
        "--import",
        "tsx",
        join(ROOT, "test/runtime/ser-agent.ts"),
        "run",
        "--input",
        "-",
        "--log-format",
        "json",
        ...args,
      ],
      {
        cwd: ROOT,
        env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env },
        stdio: ["pipe", "ignore", "pipe"],
      },
    );
    this.child.stdin?.on("error", () => {});
    this.child.stderr?.setEncoding("utf8");
    this.child.stderr?.on("data", (d: string) => {
      this.stderr = (this.stderr + d).slice(-20_000);
      const parts = (this.partial + d).split("\n");
      this.partial = parts.pop() ?? "";
      for (const p of parts) {
        try {
          this.lines.push(JSON.parse(p) as LogLine);
        } catch {
          // Not a log line (a crash trace): kept in `stderr` only.
        }
      }
    });
    this.exited = new Promise((resolve) => {
      this.child.once("exit", (code, signal) => resolve({ code, signal }));
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get log(): string {
    return this.stderr;
  }

  find(msg: string, pred: (l: LogLine) => boolean = () => true): LogLine | undefined {
    return this.lines.find((l) => l.msg === msg && pred(l));
  }

  /** Resolves with the first log line `msg` matching `pred`; rejects if the process exits. */
  async waitForLog(
    msg: string,
    pred: (l: LogLine) => boolean = () => true,
    ms = 30_000,
  ): Promise<LogLine> {
    const end = Date.now() + ms;
    let gone = false;
    void this.exited.then(() => {
      gone = true;
    });
    for (;;) {
      const hit = this.find(msg, pred);
      if (hit) return hit;
      if (gone) throw new Error(`agent exited before logging "${msg}":\n${this.stderr}`);
      if (Date.now() > end) throw new Error(`no "${msg}" within ${ms} ms:\n${this.stderr}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Feeds raw S16_LE 16 kHz mono PCM, as a microphone would. */
  feed(pcm: Buffer): void {
    this.child.stdin?.write(pcm);
  }

  kill(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  /** SIGTERM and wait; SIGKILL after `ms`. */
  async stop(ms = 10_000): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill("SIGTERM");
    const t = setTimeout(() => this.child.kill("SIGKILL"), ms);
    await this.exited;
    clearTimeout(t);
  }
}

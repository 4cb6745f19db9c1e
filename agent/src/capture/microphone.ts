import { type ChildProcess, spawn } from "node:child_process";
import { BaseAudioSource, type BaseSourceOptions } from "./base.js";
import { S16leDecoder } from "./pcm.js";
import { CAPTURE_SAMPLE_RATE, CaptureError, type CaptureErrorCode } from "./types.js";

/** Delay before retry n (1-based): min(maxMs, initialMs * factor^(n-1)), then +-jitter. */
export interface BackoffOptions {
  /** Default 500 ms. */
  initialMs?: number;
  /** Default 2. */
  factor?: number;
  /** Default 30,000 ms. */
  maxMs?: number;
  /** Random spread as a fraction of the delay, 0..1 (default 0: exact delays). */
  jitter?: number;
}

export interface MicrophoneOptions extends BaseSourceOptions {
  /** ALSA PCM name for `arecord -D`, e.g. "default", "plughw:CARD=Device,DEV=0". */
  device?: string;
  /** Recorder executable (default "arecord"). */
  command?: string;
  /** ALSA period in ms (arecord --period-time): the chunk size. Default 20. */
  periodMs?: number;
  /** ALSA buffer in ms (arecord --buffer-time): how long we may stall before overruns. Default 500. */
  bufferMs?: number;
  backoff?: BackoffOptions;
  /** Failed runs in a row (without a stable run between) before giving up. Default Infinity. */
  maxRestarts?: number;
  /** A run that delivered this much audio resets the backoff. Default 5,000 ms. */
  stableAfterMs?: number;
  /** Kill and restart the recorder if it sends nothing for this long (0: never). Default 3,000. */
  stallTimeoutMs?: number;
  /** Environment of the recorder process (default process.env), e.g. ALSA_CONFIG_PATH, HOME. */
  env?: NodeJS.ProcessEnv;
}

interface Run {
  child: ChildProcess;
  decoder: S16leDecoder;
  /** Wall clock (ms) of this run's first sample, set at its first chunk. */
  wall0: number;
  /** samplesDelivered when the run's first chunk came. */
  sample0: number;
  samples: number;
  stderr: string;
  spawnError: NodeJS.ErrnoException | undefined;
  stallTimer: NodeJS.Timeout | undefined;
  stalled: boolean;
  closed: Promise<void>;
}

const STDERR_TAIL = 1000;

/**
 * The microphone through ALSA's `arecord` (alsa-utils), raw S16_LE 16 kHz mono on its stdout.
 *
 * arecord is spawned directly rather than through node-record-lpcm16, which (1.0.1) cannot give
 * the child its own environment (needed for ALSA configuration), reports our own stop() (exit by
 * SIGTERM, code null) as an error, emits that error as a string on the audio stream, hides
 * arecord's stderr (the only place that says why, e.g. "audio open error: No such device") and
 * cannot set the period/buffer size. What it does for arecord is one spawn() call.
 *
 * When the recorder exits unexpectedly (device unplugged, driver error, killed), cannot be
 * started, or goes silent for `stallTimeoutMs`, the source reports a CaptureError ("error"
 * event, logged), emits "retry" and restarts it after an exponential backoff; when audio flows
 * again it emits "recovered" and flags the first chunk `discontinuity`. It never throws and never
 * ends by itself unless `maxRestarts` is exceeded ("end" with reason "gave-up").
 *
 * timeMs: the wall clock when a run's first chunk arrived, minus that chunk's duration, plus the
 * media time since (ALSA's clock and the system clock drift apart by well under 0.1%).
 */
export class MicrophoneSource extends BaseAudioSource {
  readonly kind = "microphone";
  readonly device: string;
  private readonly command: string;
  private readonly args: string[];
  private readonly env: NodeJS.ProcessEnv | undefined;
  private readonly backoff: Required<BackoffOptions>;
  private readonly maxRestarts: number;
  private readonly stableSamples: number;
  private readonly stallTimeoutMs: number;
  private run: Run | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Failed runs since the last stable one (drives the backoff). */
  private failures = 0;
  /** Wall clock of the failure that started the current outage, or -1 while audio flows. */
  private outageSince = -1;
  private restartsTotal = 0;

  constructor(options: MicrophoneOptions = {}) {
    super(options);
    this.device = options.device ?? "default";
    this.command = options.command ?? "arecord";
    const periodUs = Math.round((options.periodMs ?? 20) * 1000);
    const bufferUs = Math.round((options.bufferMs ?? 500) * 1000);
    this.args = [
      "-q",
      "-D",
      this.device,
      "-t",
      "raw",
      "-f",
      "S16_LE",
      "-r",
      String(CAPTURE_SAMPLE_RATE),
      "-c",
      "1",
      `--period-time=${periodUs}`,
      `--buffer-time=${bufferUs}`,
      "-",
    ];
    this.env = options.env;
    const b = options.backoff ?? {};
    this.backoff = {
      initialMs: b.initialMs ?? 500,
      factor: b.factor ?? 2,
      maxMs: b.maxMs ?? 30_000,
      jitter: Math.min(1, Math.max(0, b.jitter ?? 0)),
    };
    if (!(this.backoff.initialMs >= 0) || !(this.backoff.factor >= 1)) {
      throw new RangeError("backoff needs initialMs >= 0 and factor >= 1");
    }
    this.maxRestarts = options.maxRestarts ?? Number.POSITIVE_INFINITY;
    this.stableSamples = Math.round(((options.stableAfterMs ?? 5000) * CAPTURE_SAMPLE_RATE) / 1000);
    this.stallTimeoutMs = options.stallTimeoutMs ?? 3000;
  }

  /** The recorder's command line (for logs and diagnostics). */
  get commandLine(): string[] {
    return [this.command, ...this.args];
  }

  /** Recorder restarts since start(). */
  get restarts(): number {
    return this.restartsTotal;
  }

  /** Process id of the running recorder, if one is running. */
  get pid(): number | undefined {
    return this.run?.child.pid;
  }

  /** A microphone cannot wait: a full async-iterator queue drops its oldest chunks. */
  protected override get canPause(): boolean {
    return false;
  }

  /** Delay before retry `attempt` (1-based), without jitter. */
  backoffDelay(attempt: number): number {
    const { initialMs, factor, maxMs } = this.backoff;
    return Math.min(maxMs, initialMs * factor ** Math.max(0, attempt - 1));
  }

  async start(): Promise<void> {
    if (!this.beginRunning()) return;
    this.logger?.info("microphone starting", { device: this.device, command: this.commandLine });
    this.launch();
  }

  async stop(): Promise<void> {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const run = this.run;
    if (this.state !== "ended") this.finish("stopped");
    if (run) {
      if (run.child.exitCode === null && run.child.signalCode === null) {
        run.child.kill("SIGTERM");
        const killer = setTimeout(() => run.child.kill("SIGKILL"), 1000);
        await run.closed;
        clearTimeout(killer);
      }
      await run.closed;
    }
  }

  private launch(): void {
    this.retryTimer = undefined;
    if (this.state !== "running") return;
    let child: ChildProcess;
    try {
      child = spawn(this.command, this.args, {
        stdio: ["ignore", "pipe", "pipe"],
        env: this.env ?? process.env,
      });
    } catch (err) {
      this.runFailed(undefined, "SPAWN_FAILED", describeSpawnError(this.command, err), {});
      return;
    }
    let closed!: () => void;
    const run: Run = {
      child,
      decoder: new S16leDecoder(),
      wall0: -1,
      sample0: 0,
      samples: 0,
      stderr: "",
      spawnError: undefined,
      stallTimer: undefined,
      stalled: false,
      closed: new Promise<void>((resolve) => {
        closed = resolve;
      }),
    };
    this.run = run;
    child.stdout?.on("data", (data: Buffer) => this.onAudio(run, data));
    child.stderr?.on("data", (data: Buffer) => {
      run.stderr = (run.stderr + data.toString("utf8")).slice(-STDERR_TAIL);
    });
    child.on("error", (err) => {
      run.spawnError = err;
    });
    child.on("close", (code, signal) => {
      if (run.stallTimer) clearTimeout(run.stallTimer);
      if (this.run === run) this.run = undefined;
      closed();
      this.onClose(run, code, signal);
    });
    if (this.stallTimeoutMs > 0) {
      run.stallTimer = setTimeout(() => {
        run.stalled = true;
        child.kill("SIGKILL");
      }, this.stallTimeoutMs);
    }
  }

  private onAudio(run: Run, data: Buffer): void {
    if (this.state !== "running" || run.stalled) return;
    run.stallTimer?.refresh();
    const samples = run.decoder.push(data);
    if (samples.length === 0) return;
    const first = run.wall0 < 0;
    if (first) {
      run.sample0 = this.samplesDelivered;
      run.wall0 = Date.now() - (samples.length * 1000) / CAPTURE_SAMPLE_RATE;
    }
    const discontinuity = first && this.outageSince >= 0;
    if (discontinuity) {
      const info = { attempts: this.failures, downtimeMs: Date.now() - this.outageSince };
      this.outageSince = -1;
      this.logger?.info("microphone recovered", { device: this.device, ...info });
      this.emit("recovered", info);
    }
    const timeMs = run.wall0 + ((this.samplesDelivered - run.sample0) * 1000) / CAPTURE_SAMPLE_RATE;
    run.samples += samples.length;
    if (run.samples >= this.stableSamples) this.failures = 0;
    this.deliver(samples, timeMs, discontinuity);
  }

  private onClose(run: Run, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.state !== "running") return; // our own stop()
    const details = { exitCode: code, signal, stderr: run.stderr.trim(), samples: run.samples };
    if (run.spawnError) {
      this.runFailed(
        run,
        "SPAWN_FAILED",
        describeSpawnError(this.command, run.spawnError),
        details,
      );
    } else if (run.stalled) {
      this.runFailed(
        run,
        "DEVICE_STALLED",
        `${this.command} sent no audio for ${this.stallTimeoutMs} ms and was killed; ` +
          "is the device still there?",
        details,
      );
    } else {
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      const why = run.stderr.trim().split("\n").filter(Boolean).at(-1);
      this.runFailed(
        run,
        "DEVICE_LOST",
        `${this.command} ${how}${why ? ` (${why})` : ""}; check that the microphone is ` +
          "plugged in and the ALSA device name (arecord -L)",
        details,
      );
    }
  }

  private runFailed(
    run: Run | undefined,
    code: CaptureErrorCode,
    problem: string,
    details: Record<string, unknown>,
  ): void {
    this.failures++;
    if (this.outageSince < 0) this.outageSince = Date.now();
    const error = new CaptureError(code, `microphone ${this.device}`, problem, {
      ...details,
      pid: run?.child.pid,
      failures: this.failures,
    });
    this.reportError(error);
    if (this.failures > this.maxRestarts) {
      this.logger?.error("microphone: giving up", { device: this.device, failures: this.failures });
      this.finish("gave-up", error);
      return;
    }
    const base = this.backoffDelay(this.failures);
    const spread = this.backoff.jitter * base;
    const delayMs = Math.max(0, Math.round(base + (Math.random() * 2 - 1) * spread));
    const info = { attempt: this.failures, delayMs, error };
    this.logger?.info("microphone restart scheduled", {
      device: this.device,
      attempt: this.failures,
      delayMs,
    });
    this.emit("retry", info);
    this.restartsTotal++;
    this.retryTimer = setTimeout(() => this.launch(), delayMs);
  }
}

function describeSpawnError(command: string, err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e?.code === "ENOENT") {
    return `${command} not found; install alsa-utils (apt-get install alsa-utils)`;
  }
  return `cannot start ${command} (${e?.message ?? String(err)})`;
}

import { spawn } from "node:child_process";
import type { Logger } from "../runtime/types.js";

/**
 * systemd's notification protocol (sd_notify(3)): tell the service manager that the agent is
 * ready, what it is doing, that it is alive, and that it is stopping.
 *
 * The protocol is one AF_UNIX datagram per message to the socket named by $NOTIFY_SOCKET, which
 * Node cannot send: `dgram` knows only UDP, `net` only stream sockets, and the native packages
 * (sd-notify, unix-dgram) need a compiler at install time, which the device install avoids (no
 * native code, install scripts blocked). So messages are handed to `systemd-notify`, which ships
 * with systemd itself and is therefore present wherever there is a NOTIFY_SOCKET to talk to:
 *
 * - one `systemd-notify --pid=<our pid> VAR=VALUE` per message. It waits (since systemd 246, by
 *   a BARRIER=1 message) until the manager has processed the message, so the short-lived sender
 *   can still be attributed to the unit; messages are sent one at a time, in call order.
 * - the datagram comes from the child, not from the main PID, so the unit needs
 *   **NotifyAccess=all** (main, the default, would drop it). --pid adds MAINPID=<our pid>, which
 *   keeps the main PID right, and lets a root-run sender present our PID as its own.
 * - a failure (systemd-notify missing, non-zero exit, timeout) is logged as a warning and the
 *   agent carries on: notifications are an aid to the service manager, never a reason to stop.
 *   A missing binary disables further attempts.
 *
 * Without NOTIFY_SOCKET (not started by systemd, or not Type=notify) every call is a no-op.
 */

/** What the runtime tells the service manager. */
export interface Notifier {
  /** Start-up finished: model loaded, audio and MQTT running (READY=1). */
  ready(): void;
  /** One line shown by `systemctl status` (STATUS=...). */
  status(text: string): void;
  /** Still alive (WATCHDOG=1); see watchdogIntervalMs and startWatchdog. */
  watchdog(): void;
  /** Shutdown has begun (STOPPING=1). */
  stopping(): void;
  /** Resolves once every message sent so far has been handed over (or has failed). */
  flush(): Promise<void>;
}

/** A Notifier that does nothing: not under systemd, and in tests of the runtime. */
export const nullNotifier: Notifier = {
  ready() {},
  status() {},
  watchdog() {},
  stopping() {},
  flush: () => Promise.resolve(),
};

/** Runs `command args` to completion: exit code, and stderr for the warning. */
export type Runner = (
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
) => Promise<{ code: number | null; stderr: string }>;

const runProcess: Runner = (command, args, env, timeoutMs) =>
  new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ["ignore", "ignore", "pipe"] });
    // Not spawn's own `timeout`: its timer outlives a child that failed to start (ENOENT).
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    timer.unref();
    let stderr = "";
    child.stderr?.setEncoding("utf8");
    child.stderr?.on("data", (d: string) => {
      if (stderr.length < 2000) stderr += d;
    });
    child.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: signal ? null : code, stderr });
    });
  });

export interface SystemdNotifierOptions {
  /** Environment to read NOTIFY_SOCKET from (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** The main PID to report (default process.pid). */
  pid?: number;
  /** The notify command (default "systemd-notify", found on PATH). */
  command?: string;
  /** How a command is run (tests). */
  run?: Runner;
  /** A hung systemd-notify is killed after this (default 10 s; its own barrier waits 5 s). */
  timeoutMs?: number;
  logger?: Logger;
}

class SystemdNotifier implements Notifier {
  private tail: Promise<void> = Promise.resolve();
  private disabled = false;
  private watchdogQueued = false;

  constructor(
    private readonly socket: string,
    private readonly pid: number,
    private readonly command: string,
    private readonly run: Runner,
    private readonly timeoutMs: number,
    private readonly path: string | undefined,
    private readonly logger: Logger | undefined,
  ) {}

  ready(): void {
    this.send("READY=1");
  }

  status(text: string): void {
    // One line: systemd shows it as is, and a newline would start another assignment.
    this.send(`STATUS=${text.replace(/[\r\n]+/g, " ").slice(0, 1000)}`);
  }

  watchdog(): void {
    // While one WATCHDOG=1 waits its turn, another adds nothing.
    if (this.watchdogQueued) return;
    this.watchdogQueued = true;
    this.send("WATCHDOG=1", () => {
      this.watchdogQueued = false;
    });
  }

  stopping(): void {
    this.send("STOPPING=1");
  }

  flush(): Promise<void> {
    return this.tail;
  }

  private send(message: string, onSending?: () => void): void {
    this.tail = this.tail.then(async () => {
      onSending?.();
      if (this.disabled) return;
      const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: this.socket };
      if (this.path !== undefined) env.PATH = this.path;
      try {
        const { code, stderr } = await this.run(
          this.command,
          [`--pid=${this.pid}`, message],
          env,
          this.timeoutMs,
        );
        if (code !== 0) {
          this.logger?.warn("systemd notification failed", {
            message: message.split("=")[0],
            command: this.command,
            exit_code: code,
            stderr: stderr.trim(),
          });
        }
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        if (e.code === "ENOENT" || e.code === "EACCES") this.disabled = true;
        this.logger?.warn(
          this.disabled
            ? "systemd notifications disabled: cannot run the notify command; the unit's Type=notify start will time out"
            : "systemd notification failed",
          { message: message.split("=")[0], command: this.command, error: e },
        );
      }
    });
  }
}

/**
 * The Notifier for this process: systemd-notify based when $NOTIFY_SOCKET is set, else
 * nullNotifier.
 */
export function createNotifier(options: SystemdNotifierOptions = {}): Notifier {
  const env = options.env ?? process.env;
  const socket = env.NOTIFY_SOCKET;
  if (!socket) return nullNotifier;
  return new SystemdNotifier(
    socket,
    options.pid ?? process.pid,
    options.command ?? "systemd-notify",
    options.run ?? runProcess,
    options.timeoutMs ?? 10_000,
    env.PATH ?? process.env.PATH,
    options.logger,
  );
}

/**
 * How often to send WATCHDOG=1, in ms: half of $WATCHDOG_USEC (as sd_watchdog_enabled(3)
 * advises), when the watchdog is meant for this process ($WATCHDOG_PID unset or equal to `pid`);
 * undefined when there is no watchdog.
 */
export function watchdogIntervalMs(
  env: NodeJS.ProcessEnv = process.env,
  pid: number = process.pid,
): number | undefined {
  const usecText = env.WATCHDOG_USEC;
  if (!usecText || !/^\d+$/.test(usecText)) return undefined;
  const usec = Number(usecText);
  if (usec <= 0) return undefined;
  const forPid = env.WATCHDOG_PID;
  if (forPid !== undefined && forPid !== "" && Number(forPid) !== pid) return undefined;
  return Math.max(1, Math.floor(usec / 2000));
}

/**
 * Sends WATCHDOG=1 every `intervalMs` while `healthy()` says so (a stuck pipeline then lets
 * systemd's watchdog restart the agent). The timer does not keep the process alive. Returns the
 * function that stops it.
 */
export function startWatchdog(
  notifier: Notifier,
  intervalMs: number,
  healthy: () => boolean = () => true,
): () => void {
  const timer = setInterval(() => {
    if (healthy()) notifier.watchdog();
  }, intervalMs);
  timer.unref();
  return () => clearInterval(timer);
}

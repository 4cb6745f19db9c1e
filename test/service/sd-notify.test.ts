import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  createNotifier,
  type Notifier,
  nullNotifier,
  type Runner,
  startWatchdog,
  watchdogIntervalMs,
} from "../../agent/src/service/index.js";

const PYTHON = "/usr/bin/python3";
const SYSTEMD_NOTIFY = "/usr/bin/systemd-notify";

/**
 * What systemd does with NOTIFY_SOCKET, minus the acting: bind an AF_UNIX datagram socket and
 * print every datagram as one JSON line. recv() without ancillary space also closes the pipe fd
 * that systemd-notify's BARRIER=1 carries, which is what releases it, as systemd would.
 */
const LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("listening"), flush=True)
while True:
    print(json.dumps(s.recv(65536).decode("utf-8", "replace")), flush=True)
`;

class Listener {
  readonly datagrams: string[] = [];
  private child: ChildProcess | undefined;
  readonly path: string;

  constructor() {
    this.path = join(mkdtempSync(join(tmpdir(), "ser-notify-")), "notify.sock");
  }

  async start(): Promise<void> {
    const child = spawn(PYTHON, ["-u", "-c", LISTENER, this.path], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    this.child = child;
    let buffered = "";
    let listening: () => void = () => {};
    const ready = new Promise<void>((resolve) => {
      listening = resolve;
    });
    child.stdout?.setEncoding("utf8");
    child.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
        const line = JSON.parse(buffered.slice(0, i)) as string;
        buffered = buffered.slice(i + 1);
        if (line === "listening") listening();
        else this.datagrams.push(line);
      }
    });
    await ready;
  }

  /** The assignments received, in order, without systemd-notify's own MAINPID= and BARRIER=1. */
  messages(): string[] {
    return this.datagrams
      .flatMap((d) => d.split("\n"))
      .filter((a) => a !== "" && !a.startsWith("MAINPID=") && a !== "BARRIER=1");
  }

  async waitFor(count: number, timeoutMs = 5000): Promise<void> {
    const end = Date.now() + timeoutMs;
    while (this.messages().length < count && Date.now() < end) await sleep(10);
  }

  stop(): void {
    this.child?.kill();
  }
}

const canRun = existsSync(PYTHON) && existsSync(SYSTEMD_NOTIFY);

describe("sd_notify through systemd-notify", {
  skip: !canRun && "needs python3 and systemd-notify",
}, () => {
  const listener = new Listener();
  before(() => listener.start());
  after(() => listener.stop());

  it("sends nothing without NOTIFY_SOCKET", async () => {
    const calls: string[][] = [];
    const spy: Runner = async (_c, args) => {
      calls.push(args);
      return { code: 0, stderr: "" };
    };
    const notifier = createNotifier({ env: { PATH: process.env.PATH }, run: spy });
    assert.equal(notifier, nullNotifier);
    notifier.ready();
    notifier.status("nothing");
    notifier.watchdog();
    notifier.stopping();
    await notifier.flush();
    await sleep(200);
    assert.deepEqual(calls, []);
    assert.deepEqual(listener.datagrams, []);
  });

  it("delivers READY=1, STATUS, WATCHDOG=1 and STOPPING=1 to NOTIFY_SOCKET, in order", async () => {
    const notifier = createNotifier({
      env: { NOTIFY_SOCKET: listener.path, PATH: process.env.PATH },
    });
    notifier.ready();
    notifier.status("listening on default\nsecond line");
    notifier.watchdog();
    notifier.stopping();
    await notifier.flush();
    await listener.waitFor(4);
    assert.deepEqual(listener.messages(), [
      "READY=1",
      "STATUS=listening on default second line",
      "WATCHDOG=1",
      "STOPPING=1",
    ]);
    const mainPids = listener.datagrams.filter((d) => d.includes(`MAINPID=${process.pid}`));
    assert.equal(mainPids.length, 4, "each message names the agent as the main PID");
  });
});

describe("Notifier behaviour", () => {
  /** A runner that records calls and can be made slow or failing. */
  function fakeRunner(
    behave: (args: string[]) => Promise<{ code: number | null; stderr: string }>,
  ) {
    const calls: { command: string; args: string[]; env: NodeJS.ProcessEnv }[] = [];
    const run: Runner = (command, args, env) => {
      calls.push({ command, args, env });
      return behave(args);
    };
    return { calls, run };
  }
  const env = { NOTIFY_SOCKET: "/run/systemd/notify", PATH: "/usr/bin" };

  it("runs systemd-notify with --pid and the message, one at a time", async () => {
    let running = 0;
    let maxRunning = 0;
    const { calls, run } = fakeRunner(async () => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      await sleep(5);
      running--;
      return { code: 0, stderr: "" };
    });
    const n = createNotifier({ env, pid: 4242, run });
    n.ready();
    n.status("a");
    n.stopping();
    await n.flush();
    assert.equal(maxRunning, 1);
    assert.deepEqual(
      calls.map((c) => c.args),
      [
        ["--pid=4242", "READY=1"],
        ["--pid=4242", "STATUS=a"],
        ["--pid=4242", "STOPPING=1"],
      ],
    );
    assert.equal(calls[0].command, "systemd-notify");
    assert.deepEqual(calls[0].env, env, "the child gets NOTIFY_SOCKET and PATH only");
  });

  it("coalesces watchdog pings that pile up behind a slow send", async () => {
    const { calls, run } = fakeRunner(async () => {
      await sleep(20);
      return { code: 0, stderr: "" };
    });
    const n = createNotifier({ env, run });
    n.ready();
    n.watchdog();
    n.watchdog();
    n.watchdog();
    await n.flush();
    assert.deepEqual(
      calls.map((c) => c.args[1]),
      ["READY=1", "WATCHDOG=1"],
    );
    n.watchdog();
    await n.flush();
    assert.equal(calls.length, 3, "a later ping is sent again");
  });

  it("warns and carries on when systemd-notify fails, and gives up when it is missing", async () => {
    const warnings: { msg: string; fields?: Record<string, unknown> }[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (msg: string, fields?: Record<string, unknown>) => warnings.push({ msg, fields }),
      error() {},
    };
    const failing = fakeRunner(async () => ({ code: 1, stderr: "No such file or directory\n" }));
    const n = createNotifier({ env, run: failing.run, logger });
    n.ready();
    n.stopping();
    await n.flush();
    assert.equal(failing.calls.length, 2);
    assert.equal(warnings.length, 2);
    assert.equal(warnings[0].fields?.exit_code, 1);

    warnings.length = 0;
    const missing = createNotifier({ env, command: "/nonexistent/systemd-notify", logger });
    missing.ready();
    missing.watchdog();
    missing.stopping();
    await missing.flush();
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].msg, /disabled/);
  });

  it("reads the watchdog period from WATCHDOG_USEC and WATCHDOG_PID", () => {
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "30000000" }, 10), 15000);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "10" }, 10), 15000);
    assert.equal(
      watchdogIntervalMs({ WATCHDOG_USEC: "30000000", WATCHDOG_PID: "11" }, 10),
      undefined,
    );
    assert.equal(watchdogIntervalMs({}, 10), undefined);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "0" }, 10), undefined);
    assert.equal(watchdogIntervalMs({ WATCHDOG_USEC: "30s" }, 10), undefined);
  });

  it("pings the watchdog only while healthy", async () => {
    let pings = 0;
    let healthy = true;
    const notifier: Notifier = { ...nullNotifier, watchdog: () => void pings++ };
    const stop = startWatchdog(notifier, 10, () => healthy);
    await sleep(60);
    const whileHealthy = pings;
    assert.ok(whileHealthy >= 2, `pinged ${whileHealthy} times`);
    healthy = false;
    await sleep(40);
    const atUnhealthy = pings;
    await sleep(40);
    assert.equal(pings, atUnhealthy, "no pings while unhealthy");
    stop();
  });
});

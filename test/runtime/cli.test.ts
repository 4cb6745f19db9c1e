// `ser-agent run` as a command: in-process for the output and exit status, and as a real child
// process for systemd's view of it (sd_notify datagrams on a NOTIFY_SOCKET, SIGTERM, exit 0).
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { main } from "../../agent/src/cli.js";
import { freePort, tmp, waitUntil } from "../mqtt/helpers.js";
import { buildTestBundle, DEMO_CLIPS, FIXTURE_CLIPS, ROOT, type TestBundle } from "./bundle.js";

let bundle: TestBundle;
before(async () => {
  bundle = await buildTestBundle(join(tmp("runtime-cli"), "bundle"));
});

async function run(argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("ser-agent run (in-process)", () => {
  it("--echo prints each event received back from the embedded broker, one line each", async () => {
    const port = await freePort();
    // Relative paths, as a user types them (and as they are printed).
    const clips = DEMO_CLIPS.map((f) => relative(process.cwd(), f));
    const r = await run([
      "run",
      "--input",
      ...clips,
      "--fast",
      "--exit-at-end",
      "--echo",
      "--model-dir",
      bundle.dir,
      "--mqtt-embedded-port",
      String(port),
      "--device-id",
      "echo-pi",
      "--log-level",
      "error",
    ]);
    assert.equal(r.code, 0, r.err);
    const lines = r.out.trimEnd().split("\n");
    assert.equal(lines[0], `# 5 files -> mqtt://127.0.0.1:${port} ser-edge/echo-pi/emotion`);
    assert.equal(lines.length, 1 + clips.length, r.out);
    const LINE =
      /^(\d\d):(\d\d):(\d\d)\.(\d{3}) {2}(neutral|happy {2}|sad {4}|angry {2}|unknown) {2}([01]\.\d\d) {2}\((\d+\.\d\d) s\) {2}(\S+)$/;
    lines.slice(1).forEach((line, i) => {
      const m = LINE.exec(line);
      assert.ok(m, `line ${i}: ${JSON.stringify(line)}`);
      assert.equal(m[8], clips[i], "each file's utterance, in order");
      const seconds = Number(m[7]);
      assert.ok(seconds >= 1 && seconds <= 4.5, line);
    });
  });

  it("exits 78 naming the setting on a configuration typo, before starting anything", async () => {
    const dir = tmp("runtime-cli-config");
    const file = join(dir, "config.json");
    writeFileSync(file, JSON.stringify({ mqtt: { urll: "mqtt://broker:1883" } }));
    let r = await run(["run", "--config", file, "--input", DEMO_CLIPS[0]]);
    assert.equal(r.code, 78);
    assert.equal(r.out, "");
    assert.match(
      r.err,
      /mqtt\.urll \(in .*config\.json\) is not a setting\. Did you mean "mqtt\.url"\?/,
    );

    r = await run(["run", "--vad-max-utterance-ms", "1000", "--input", DEMO_CLIPS[0]]);
    assert.equal(r.code, 78);
    assert.match(r.err, /vad\.maxUtteranceMs \(1000, set by the argument --vad-max-utterance-ms\)/);

    r = await run(["run", "--input", join(dir, "missing.wav"), "--model-dir", bundle.dir]);
    assert.equal(r.code, 1);
    assert.match(r.err, /missing\.wav: file not found/);
  });

  it("explains a missing default model", async () => {
    if (existsSync(join(ROOT, "models/default"))) return;
    const r = await run(["run", "--input", DEMO_CLIPS[0], "--fast", "--exit-at-end"]);
    assert.equal(r.code, 1);
    assert.match(
      r.err,
      /no model bundle at .*models\/default \(the default model\.dir\); set model\.dir/,
    );
  });
});

const PYTHON = "/usr/bin/python3";
const SYSTEMD_NOTIFY = "/usr/bin/systemd-notify";

/** Stands in for systemd's NOTIFY_SOCKET: prints each datagram as a JSON line. */
const LISTENER = `
import json, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(json.dumps("listening"), flush=True)
while True:
    print(json.dumps(s.recv(65536).decode("utf-8", "replace")), flush=True)
`;

describe("ser-agent run under systemd (child process, real NOTIFY_SOCKET)", {
  skip: !(existsSync(PYTHON) && existsSync(SYSTEMD_NOTIFY)) && "needs python3 and systemd-notify",
}, () => {
  let listener: ChildProcess | undefined;
  let agent: ChildProcess | undefined;
  const messages: string[] = [];
  after(() => {
    listener?.kill();
    if (agent && agent.exitCode === null && agent.signalCode === null) agent.kill("SIGKILL");
  });

  it("says READY, pings the watchdog from the audio loop, and on SIGTERM says STOPPING and exits 0 within 5 s", {
    timeout: 60_000,
  }, async () => {
    const socket = join(tmp("runtime-notify"), "notify.sock");
    listener = spawn(PYTHON, ["-u", "-c", LISTENER, socket], {
      stdio: ["ignore", "pipe", "inherit"],
    });
    let listening = false;
    let buffered = "";
    listener.stdout?.setEncoding("utf8");
    listener.stdout?.on("data", (chunk: string) => {
      buffered += chunk;
      for (let i = buffered.indexOf("\n"); i >= 0; i = buffered.indexOf("\n")) {
        const line = JSON.parse(buffered.slice(0, i)) as string;
        buffered = buffered.slice(i + 1);
        if (line === "listening") listening = true;
        else {
          for (const a of line.split("\n")) {
            if (a !== "" && !a.startsWith("MAINPID=") && a !== "BARRIER=1") messages.push(a);
          }
        }
      }
    });
    await waitUntil(() => listening, "the notify listener");

    const port = await freePort();
    let stderr = "";
    agent = spawn(
      process.execPath,
      [
        "--conditions=source",
        "--import",
        "tsx",
        join(ROOT, "test/runtime/ser-agent.ts"),
        "run",
        // Real time: the agent is still listening when it is told to stop.
        "--input",
        ...FIXTURE_CLIPS,
        "--model-dir",
        bundle.dir,
        "--mqtt-embedded-port",
        String(port),
        "--log-format",
        "logfmt",
      ],
      {
        cwd: ROOT,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          NOTIFY_SOCKET: socket,
          // WatchdogSec=0.4: a ping every 200 ms.
          WATCHDOG_USEC: "400000",
        },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    agent.stderr?.setEncoding("utf8");
    agent.stderr?.on("data", (d: string) => {
      stderr += d;
    });
    const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) => {
      agent?.once("exit", (code, signal) => resolve({ code, signal }));
    });
    await waitUntil(
      () => messages.filter((m) => m === "WATCHDOG=1").length >= 2,
      `two watchdog pings (have ${messages.join(" | ")}; stderr ${stderr})`,
      30_000,
    );
    const t0 = Date.now();
    agent.kill("SIGTERM");
    const { code, signal } = await exited;
    const took = Date.now() - t0;
    assert.equal(signal, null);
    assert.equal(code, 0, stderr);
    assert.ok(took < 5000, `exited ${took} ms after SIGTERM`);
    await sleep(100);

    const ready = messages.indexOf("READY=1");
    const firstPing = messages.indexOf("WATCHDOG=1");
    const stopping = messages.indexOf("STOPPING=1");
    assert.ok(ready >= 0 && firstPing > ready && stopping > firstPing, messages.join(" | "));
    assert.equal(messages.lastIndexOf("READY=1"), ready, "READY once");
    assert.ok(!messages.slice(stopping).includes("WATCHDOG=1"), "no pings once stopping");
    assert.match(messages[0], /^STATUS=loading model/);
    assert.ok(
      messages.slice(ready).some((m) => /^STATUS=listening; 4 files; MQTT connected/.test(m)),
      messages.join(" | "),
    );
    assert.ok(messages.slice(stopping).some((m) => /^STATUS=stopping/.test(m)));
    assert.match(stderr, /msg="signal received: stopping" signal=SIGTERM/);
    assert.match(stderr, /msg="mqtt closed" clean=true/);
    assert.match(stderr, /msg="agent stopped"/);
  });
});

// Real parts for the MQTT tests: a mosquitto per test file on a free port, an MQTT.js
// subscriber that records what arrives, a logger that keeps what it was told.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect as netConnect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import type { EmotionEvent, Logger } from "../../agent/src/runtime/types.js";

export const MOSQUITTO = "/usr/sbin/mosquitto";
export const MOSQUITTO_PASSWD = "/usr/bin/mosquitto_passwd";

const made: string[] = [];
process.once("exit", () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory, removed when the test process exits. */
export function tmp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `ser-mqtt-${prefix}-`));
  made.push(dir);
  return dir;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `cond` every 20 ms; throws with `what` after `timeoutMs`. */
export async function waitUntil(
  cond: () => boolean,
  what: string,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline)
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = netConnect({ port, host: "127.0.0.1" });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export interface MosquittoOptions {
  /** Keep sessions and retained messages across a restart (saved on SIGTERM). */
  persistence?: boolean;
  /** username → password; anonymous clients are then refused. */
  users?: Record<string, string>;
  /** TLS only (mqtts://), with this server certificate (see makeTlsFiles). */
  tls?: TlsFiles;
}

export interface TlsFiles {
  /** The test CA's certificate: what clients must trust. */
  ca: string;
  cert: string;
  key: string;
}

/**
 * A throwaway CA and a server certificate for 127.0.0.1 and localhost, made with openssl (P-256,
 * valid two days), for a mosquitto TLS listener.
 */
export function makeTlsFiles(dir: string): TlsFiles {
  const f = (name: string) => join(dir, name);
  const run = (args: string[]) => {
    const r = spawnSync("openssl", args, { encoding: "utf8", cwd: dir });
    if (r.status !== 0) throw new Error(`openssl ${args[0]} failed: ${r.stderr}`);
  };
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  run([
    "req",
    "-x509",
    ...ec,
    "-keyout",
    f("ca.key"),
    "-out",
    f("ca.pem"),
    "-days",
    "2",
    "-subj",
    "/CN=ser-edge test CA",
  ]);
  run([
    "req",
    ...ec,
    "-keyout",
    f("server.key"),
    "-out",
    f("server.csr"),
    "-subj",
    "/CN=localhost",
  ]);
  writeFileSync(f("san.ext"), "subjectAltName=DNS:localhost,IP:127.0.0.1\n");
  run([
    "x509",
    "-req",
    "-in",
    f("server.csr"),
    "-CA",
    f("ca.pem"),
    "-CAkey",
    f("ca.key"),
    "-CAcreateserial",
    "-out",
    f("server.pem"),
    "-days",
    "2",
    "-extfile",
    f("san.ext"),
  ]);
  return { ca: f("ca.pem"), cert: f("server.pem"), key: f("server.key") };
}

/** A real mosquitto on 127.0.0.1 and a free port; stop() and start() keep the port. */
export class Mosquitto {
  readonly dir: string;
  readonly conf: string;
  private child: ChildProcess | undefined;
  private stderr = "";

  private readonly tls: boolean;

  private constructor(
    readonly port: number,
    opts: MosquittoOptions,
  ) {
    this.tls = opts.tls !== undefined;
    this.dir = tmp("broker");
    this.conf = join(this.dir, "mosquitto.conf");
    const lines = [
      `listener ${port} 127.0.0.1`,
      // The tests run as root; without this mosquitto would switch to the "mosquitto" user and
      // could not write its persistence file in our temporary directory.
      "user root",
      "log_type error",
      "log_type warning",
    ];
    if (opts.persistence) {
      lines.push("persistence true", `persistence_location ${this.dir}/`, "autosave_interval 1");
    }
    if (opts.tls) {
      lines.push(`cafile ${opts.tls.ca}`, `certfile ${opts.tls.cert}`, `keyfile ${opts.tls.key}`);
    }
    if (opts.users) {
      const pw = join(this.dir, "passwd");
      for (const [user, pass] of Object.entries(opts.users)) {
        const args = existsSync(pw) ? ["-b", pw, user, pass] : ["-c", "-b", pw, user, pass];
        const r = spawnSync(MOSQUITTO_PASSWD, args, { encoding: "utf8" });
        if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
      }
      lines.push("allow_anonymous false", `password_file ${pw}`);
    } else {
      lines.push("allow_anonymous true");
    }
    writeFileSync(this.conf, `${lines.join("\n")}\n`);
  }

  static async start(opts: MosquittoOptions = {}): Promise<Mosquitto> {
    // Another test file may grab the same free port between our probe and mosquitto's bind.
    for (let attempt = 1; ; attempt++) {
      const m = new Mosquitto(await freePort(), opts);
      try {
        await m.start();
        return m;
      } catch (err) {
        await m.dispose();
        if (attempt >= 3) throw err;
      }
    }
  }

  get url(): string {
    return `${this.tls ? "mqtts" : "mqtt"}://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  /** Starts mosquitto and waits until it accepts connections. */
  async start(): Promise<void> {
    if (this.child) return;
    const child = spawn(MOSQUITTO, ["-c", this.conf], { stdio: ["ignore", "ignore", "pipe"] });
    this.child = child;
    child.stderr?.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString()).slice(-4000);
    });
    child.once("exit", () => {
      if (this.child === child) this.child = undefined;
    });
    const deadline = Date.now() + 10_000;
    while (!(await accepts(this.port))) {
      if (!this.child) throw new Error(`mosquitto exited at start:\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`mosquitto did not listen:\n${this.stderr}`);
      await sleep(25);
    }
  }

  /** Stops this mosquitto (only the process this object started) and waits for its exit. */
  async stop(signal: NodeJS.Signals = "SIGTERM"): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((r) => child.once("exit", () => r()));
    child.kill(signal);
    await exited;
    this.child = undefined;
  }

  async dispose(): Promise<void> {
    await this.stop("SIGKILL");
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface Received {
  topic: string;
  payload: string;
  qos: number;
  retain: boolean;
  dup: boolean;
}

/** An MQTT.js client that records every message on its subscriptions. */
export class Recorder {
  readonly messages: Received[] = [];

  private constructor(readonly client: MqttClient) {
    client.on("message", (topic, payload, packet) => {
      this.messages.push({
        topic,
        payload: payload.toString("utf8"),
        qos: packet.qos,
        retain: packet.retain,
        dup: packet.dup,
      });
    });
  }

  static async connect(
    url: string,
    topics: string[],
    opts: IClientOptions = {},
  ): Promise<Recorder> {
    const client = await connectAsync(url, { reconnectPeriod: 100, ...opts });
    const rec = new Recorder(client);
    await client.subscribeAsync(topics, { qos: 1 });
    return rec;
  }

  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic);
  }

  async waitFor(topic: string, count: number, timeoutMs = 10_000): Promise<Received[]> {
    await waitUntil(
      () => this.on(topic).length >= count,
      `${count} message(s) on ${topic} (have ${this.on(topic).length})`,
      timeoutMs,
    );
    return this.on(topic);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }
}

/** The retained message on `topic`, as a fresh client sees it (undefined if none). */
export async function retained(url: string, topic: string, opts: IClientOptions = {}) {
  const rec = await Recorder.connect(url, [topic], opts);
  try {
    await waitUntil(() => rec.on(topic).length > 0, `retained ${topic}`, 1500).catch(() => {});
    return rec.on(topic)[0];
  } finally {
    await rec.close();
  }
}

export interface LogEntry {
  level: "debug" | "info" | "warn" | "error";
  msg: string;
  fields?: Record<string, unknown>;
}

/** Keeps log entries; MQTT_TEST_DEBUG=1 prints them too. */
export function memoryLogger(name = ""): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry["level"]) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      entries.push({ level, msg, ...(fields ? { fields } : {}) });
      if (process.env.MQTT_TEST_DEBUG) {
        process.stderr.write(`[${name}] ${level} ${msg} ${fields ? JSON.stringify(fields) : ""}\n`);
      }
    };
  return { entries, debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}

export const MODEL = {
  name: "tdnn-ravdess",
  version: "1.2.0",
  labels: ["neutral", "happy", "sad", "angry"],
};

/** An emotion event whose sequence number rides in `window.index`. */
export function emotionEvent(seq: number, device = "test-pi"): EmotionEvent {
  const t0 = Date.UTC(2025, 0, 1) + seq * 1000;
  return {
    device,
    start: new Date(t0).toISOString(),
    end: new Date(t0 + 850).toISOString(),
    duration_ms: 850,
    label: MODEL.labels[seq % MODEL.labels.length],
    confidence: 0.5 + (seq % 5) / 10,
    scores: { neutral: 0.1, happy: 0.2, sad: 0.3, angry: 0.4 },
    model: { name: MODEL.name, version: MODEL.version },
    window: { index: seq },
  };
}

/** Sequence numbers of emotion messages, in arrival order. */
export const seqs = (messages: Received[]): number[] =>
  messages.map((m) => (JSON.parse(m.payload) as EmotionEvent).window?.index ?? -1);

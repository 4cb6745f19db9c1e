import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { appendFileSync, existsSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import {
  MqttError,
  MqttPublisher,
  type MqttPublisherOptions,
  OUTBOX_FILE,
  startEmbeddedBroker,
} from "../../agent/src/mqtt/index.js";
import type { AgentStatus, EmotionEvent } from "../../agent/src/runtime/types.js";
import {
  emotionEvent,
  freePort,
  MODEL,
  MOSQUITTO_PASSWD,
  Mosquitto,
  memoryLogger,
  Recorder,
  retained,
  seqs,
  tmp,
  waitUntil,
} from "./helpers.js";

const CHILD = fileURLToPath(new URL("./child-publisher.ts", import.meta.url));
const topicsOf = (id: string) => ({
  emotion: `ser-edge/${id}/emotion`,
  state: `ser-edge/${id}/state`,
  availability: `ser-edge/${id}/availability`,
  status: `ser-edge/${id}/status`,
  discovery: `homeassistant/device/${id}/config`,
});

describe("mqtt publisher against a real mosquitto", () => {
  let broker: Mosquitto;
  const open: MqttPublisher[] = [];
  const make = (over: Partial<MqttPublisherOptions> & { deviceId: string }) => {
    const p = new MqttPublisher({
      url: broker.url,
      model: MODEL,
      outboxDir: tmp("pub"),
      reconnectPeriodMs: 200,
      logger: memoryLogger(over.deviceId),
      ...over,
    });
    open.push(p);
    return p;
  };

  before(async () => {
    broker = await Mosquitto.start();
  });
  after(async () => {
    for (const p of open) p.abort();
    await broker.dispose();
  });

  it("publishes events, retained state and availability, discovery; re-announces; offline on close", async () => {
    const t = topicsOf("alpha");
    const rec = await Recorder.connect(broker.url, ["ser-edge/alpha/#", "homeassistant/#"]);
    const status: AgentStatus = {
      device: "alpha",
      uptime_s: 12,
      cpu_percent: 30,
      rss_mb: 80,
      utterances: 3,
      dropped: 0,
      queue_depth: 0,
      model_version: MODEL.version,
      reconnects: 0,
    };
    const p = make({ deviceId: "alpha", statusIntervalS: 3600, getStatus: () => status });
    p.start();
    await waitUntil(() => p.connected, "connection");

    const [online] = await rec.waitFor(t.availability, 1);
    assert.equal(online.payload, "online");
    const [disc] = await rec.waitFor(t.discovery, 1);
    const config = JSON.parse(disc.payload);
    assert.equal(config.cmps.emotion.p, "event");
    assert.equal(config.cmps.emotion.state_topic, t.emotion);
    assert.deepEqual(config.cmps.emotion.event_types, [...MODEL.labels, "unknown"]);
    assert.equal(config.availability_topic, t.availability);
    const [st] = await rec.waitFor(t.status, 1);
    assert.deepEqual(JSON.parse(st.payload), status, "a status on connect");

    for (let i = 0; i < 3; i++) p.publishEmotion(emotionEvent(i, "alpha"));
    const events = await rec.waitFor(t.emotion, 3);
    assert.deepEqual(seqs(events), [0, 1, 2]);
    for (const [i, m] of events.entries()) {
      assert.equal(m.qos, 1);
      assert.equal(m.retain, false);
      assert.deepEqual(JSON.parse(m.payload) as EmotionEvent, emotionEvent(i, "alpha"));
    }
    await rec.waitFor(t.state, 3);

    // A client arriving later gets the last emotion and the availability, retained.
    const state = await retained(broker.url, t.state);
    assert.equal(state?.retain, true);
    assert.deepEqual(JSON.parse(state?.payload ?? "{}"), emotionEvent(2, "alpha"));
    const avail = await retained(broker.url, t.availability);
    assert.equal(avail?.payload, "online");
    assert.equal(avail?.retain, true);
    const disco = await retained(broker.url, t.discovery);
    assert.equal(disco?.retain, true, "discovery is retained");

    // Home Assistant restarted: discovery again.
    await rec.client.publishAsync("homeassistant/status", "online", { qos: 1 });
    await rec.waitFor(t.discovery, 2);
    assert.equal(rec.on(t.discovery)[1].payload, disc.payload);

    p.publishStatus({ ...status, utterances: 4 });
    await rec.waitFor(t.status, 2);
    await waitUntil(() => p.stats().depth === 0, "an empty outbox");
    const s = p.stats();
    assert.equal(s.connects, 1);
    assert.equal(s.reconnects, 0);
    assert.equal(s.queued, 8); // 3 × (event + state) + 2 statuses
    assert.equal(s.delivered, 8);
    assert.equal(s.dropped, 0);

    await p.close();
    const [, offline] = await rec.waitFor(t.availability, 2);
    assert.equal(offline.payload, "offline");
    assert.equal((await retained(broker.url, t.availability))?.payload, "offline");
    assert.throws(
      () => p.publishEmotion(emotionEvent(9)),
      (e) => (e as MqttError).code === "closed",
    );
    await rec.close();
  });

  it("the broker publishes the Last Will (offline) when the connection drops uncleanly", async () => {
    const t = topicsOf("willy");
    const rec = await Recorder.connect(broker.url, [t.availability]);
    const p = make({ deviceId: "willy" });
    p.start();
    await rec.waitFor(t.availability, 1);
    assert.equal(rec.on(t.availability)[0].payload, "online");
    p.abort(); // destroys the socket without DISCONNECT, as a crash would
    const [, will] = await rec.waitFor(t.availability, 2);
    assert.equal(will.payload, "offline");
    assert.equal((await retained(broker.url, t.availability))?.payload, "offline");
    await rec.close();
  });

  it("a crashed process's outbox (torn last line included) is delivered by the next one, in order", async () => {
    const t = topicsOf("test-pi");
    const dir = tmp("crash");
    const nowhere = `mqtt://127.0.0.1:${await freePort()}`;
    const child = spawn(
      process.execPath,
      ["--conditions=source", "--import", "tsx", CHILD, nowhere, dir, "20"],
      { stdio: ["ignore", "pipe", "inherit"] },
    );
    const exited = new Promise((r) => child.once("exit", r));
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await waitUntil(() => out.includes("queued"), "the child to queue", 20_000);
    assert.match(out, /queued 40/);
    child.kill("SIGKILL");
    await exited;
    // As if it had died in the middle of one more append.
    appendFileSync(join(dir, OUTBOX_FILE), '{"seq":40,"topic":"ser-edge/test-pi/emo');

    const rec = await Recorder.connect(broker.url, [t.emotion]);
    const logger = memoryLogger("restarted");
    const p = make({ deviceId: "test-pi", outboxDir: dir, logger });
    assert.equal(p.stats().depth, 40);
    p.start();
    const events = await rec.waitFor(t.emotion, 20);
    assert.deepEqual(
      seqs(events),
      Array.from({ length: 20 }, (_, i) => i),
    );
    await waitUntil(() => p.stats().depth === 0, "the outbox to drain");
    assert.equal(p.stats().delivered, 40);
    assert.ok(logger.entries.some((e) => /torn last line/.test(e.msg)));
    assert.ok(logger.entries.some((e) => /stale lock/.test(e.msg)));
    await p.close();
    await rec.close();
  });

  it("close() with the broker away keeps the queue; a full outbox dropped the oldest", async () => {
    const t = topicsOf("bounded");
    const dir = tmp("bounded");
    const nowhere = `mqtt://127.0.0.1:${await freePort()}`;
    const first = make({
      deviceId: "bounded",
      url: nowhere,
      outboxDir: dir,
      outbox: { maxMessages: 10 },
    });
    first.start();
    for (let i = 0; i < 10; i++) first.publishEmotion(emotionEvent(i, "bounded"));
    assert.equal(first.stats().queued, 20);
    assert.equal(first.stats().dropped, 10);
    assert.equal(first.stats().depth, 10);
    const started = Date.now();
    await first.close(300);
    assert.ok(Date.now() - started < 2000, "close() does not hang without a broker");

    const rec = await Recorder.connect(broker.url, [t.emotion, t.state]);
    const second = make({ deviceId: "bounded", outboxDir: dir, outbox: { maxMessages: 10 } });
    second.start();
    const events = await rec.waitFor(t.emotion, 5);
    assert.deepEqual(seqs(events), [5, 6, 7, 8, 9], "the newest five events, in order");
    const states = await rec.waitFor(t.state, 5);
    assert.deepEqual(seqs(states), [5, 6, 7, 8, 9]);
    await waitUntil(() => second.stats().delivered === 10, "10 deliveries");
    await second.close();
    await rec.close();
  });

  it("a message the outbox cannot store is sent directly and reported", async () => {
    const t = topicsOf("nodisk");
    const rec = await Recorder.connect(broker.url, [t.emotion]);
    const logger = memoryLogger("nodisk");
    const p = make({ deviceId: "nodisk", outbox: { maxBytes: 200 }, logger });
    p.start();
    await waitUntil(() => p.connected, "connection");
    assert.equal(p.publishEmotion(emotionEvent(7, "nodisk")), false);
    const [m] = await rec.waitFor(t.emotion, 1);
    assert.deepEqual(JSON.parse(m.payload), emotionEvent(7, "nodisk"));
    assert.equal(p.stats().unqueued, 2);
    assert.ok(logger.entries.some((e) => e.level === "error" && /cannot store/.test(e.msg)));
    await p.close();
    await rec.close();
  });

  it("checks its options with messages that say what to do", () => {
    const base = { deviceId: "opts", model: MODEL, outboxDir: tmp("opts"), logger: memoryLogger() };
    const code = (c: string) => (e: unknown) => e instanceof MqttError && e.code === c;
    assert.throws(() => new MqttPublisher({ ...base, url: "http://x" }), code("invalid-option"));
    assert.throws(() => new MqttPublisher({ ...base, url: "not a url" }), /mqtt:\/\/host:1883/);
    assert.throws(
      () => new MqttPublisher({ ...base, url: "mqtts://x", tls: { ca: "/nonexistent/ca.pem" } }),
      (e) => code("tls-file")(e) && /ENOENT.*check the path/.test((e as Error).message),
    );
    assert.throws(
      () => new MqttPublisher({ ...base, url: "mqtt://x", tls: { ca: "/etc/hostname" } }),
      /use mqtts:\/\//,
    );
    assert.throws(
      () => new MqttPublisher({ ...base, url: "mqtt://x", deviceId: "a/b" }),
      code("invalid-topic"),
    );
    assert.throws(
      () => new MqttPublisher({ ...base, url: "mqtt://x", reconnectPeriodMs: 0 }),
      /never reconnect/,
    );
    // A failed constructor leaves no lock behind.
    const ok = new MqttPublisher({ ...base, url: "mqtt://x" });
    ok.abort();
  });
});

describe("mqtt publisher with a login", () => {
  const hasPasswd = existsSync(MOSQUITTO_PASSWD);
  let broker: Mosquitto | undefined;
  before(async () => {
    if (hasPasswd) broker = await Mosquitto.start({ users: { agent: "s3cret", ha: "ha-pass" } });
  });
  after(async () => {
    await broker?.dispose();
  });

  it("logs in with username/password; a wrong password is reported", {
    skip: hasPasswd ? false : `${MOSQUITTO_PASSWD} is not installed`,
  }, async () => {
    assert.ok(broker);
    const t = topicsOf("secure");
    const wrongLog = memoryLogger("wrong");
    const wrong = new MqttPublisher({
      url: broker.url,
      username: "agent",
      password: "wrong",
      deviceId: "secure",
      model: MODEL,
      outboxDir: tmp("auth"),
      reconnectPeriodMs: 200,
      logger: wrongLog,
    });
    wrong.start();
    await waitUntil(
      () => wrongLog.entries.some((e) => e.level === "error" && /refused the login/.test(e.msg)),
      "a login error",
    );
    assert.equal(wrong.connected, false);
    await wrong.close(200);

    const rec = await Recorder.connect(broker.url, [t.emotion], {
      username: "ha",
      password: "ha-pass",
    });
    const p = new MqttPublisher({
      url: broker.url,
      username: "agent",
      password: "s3cret",
      deviceId: "secure",
      model: MODEL,
      outboxDir: tmp("auth"),
      reconnectPeriodMs: 200,
      logger: memoryLogger("secure"),
    });
    p.start();
    p.publishEmotion(emotionEvent(0, "secure"));
    const [m] = await rec.waitFor(t.emotion, 1);
    assert.deepEqual(JSON.parse(m.payload), emotionEvent(0, "secure"));
    await p.close();
    await rec.close();
  });
});

describe("mqtt publisher with the embedded broker", () => {
  it("works the same against aedes (events, retained state, offline via will and on close)", async () => {
    const broker = await startEmbeddedBroker({ host: "127.0.0.1", port: 0 });
    try {
      assert.match(broker.url, /^mqtt:\/\/127\.0\.0\.1:\d+$/);
      assert.notEqual(broker.port, 0);
      const t = topicsOf("embedded");
      const rec = await Recorder.connect(broker.url, ["ser-edge/embedded/#", "homeassistant/#"]);
      const p = new MqttPublisher({
        url: broker.url,
        deviceId: "embedded",
        model: MODEL,
        outboxDir: tmp("aedes"),
        reconnectPeriodMs: 200,
        logger: memoryLogger("aedes"),
      });
      p.start();
      for (let i = 0; i < 5; i++) p.publishEmotion(emotionEvent(i, "embedded"));
      const events = await rec.waitFor(t.emotion, 5);
      assert.deepEqual(seqs(events), [0, 1, 2, 3, 4]);
      assert.ok(events.every((m) => m.qos === 1));
      await rec.waitFor(t.discovery, 1);
      await rec.waitFor(t.state, 5);
      const state = await retained(broker.url, t.state);
      assert.deepEqual(JSON.parse(state?.payload ?? "{}"), emotionEvent(4, "embedded"));
      assert.equal((await retained(broker.url, t.availability))?.payload, "online");
      await p.close();
      assert.equal((await retained(broker.url, t.availability))?.payload, "offline");

      // And the Last Will, on an unclean drop.
      const q = new MqttPublisher({
        url: broker.url,
        deviceId: "embedded",
        model: MODEL,
        outboxDir: tmp("aedes"),
        reconnectPeriodMs: 200,
        logger: memoryLogger("aedes2"),
      });
      q.start();
      await waitUntil(() => q.connected, "connection");
      await waitUntil(
        () => rec.on(t.availability).filter((m) => m.payload === "online").length === 2,
        "online again",
      );
      q.abort();
      await waitUntil(
        () => rec.on(t.availability).filter((m) => m.payload === "offline").length === 2,
        "the will",
      );
      await rec.close();
    } finally {
      await broker.close();
    }
    // Port 0 twice: each gets its own free port, and close() released the first.
    const again = await startEmbeddedBroker({ port: broker.port });
    await again.close();
  });
});

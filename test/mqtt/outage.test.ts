// The broker goes away for 10 s while the agent keeps producing events, then comes back on the
// same port: every event must arrive, in order, duplicated at most as QoS 1 allows.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MqttPublisher } from "../../agent/src/mqtt/index.js";
import {
  emotionEvent,
  MODEL,
  Mosquitto,
  memoryLogger,
  Recorder,
  retained,
  seqs,
  sleep,
  tmp,
  waitUntil,
} from "./helpers.js";

const OUTAGE_MS = 10_000;
const EVERY_MS = 100;
const MAX_INFLIGHT = 16;

describe("mqtt publisher across a broker outage", () => {
  let broker: Mosquitto;
  before(async () => {
    // The broker is SIGKILLed: no goodbye to anyone. Persistence (saved every second) keeps the
    // subscriber's session across the restart, so the subscriber is subscribed again before the
    // publisher's backlog arrives; what it then misses would be the publisher's doing.
    broker = await Mosquitto.start({ persistence: true });
  });
  after(async () => {
    await broker.dispose();
  });

  it("delivers every event in order after the broker was down for 10 s", {
    timeout: 90_000,
  }, async () => {
    const id = "outage-pi";
    const emotion = `ser-edge/${id}/emotion`;
    const discovery = `homeassistant/device/${id}/config`;
    const sub = await Recorder.connect(broker.url, [emotion, discovery], {
      clientId: "outage-subscriber",
      clean: false,
      reconnectPeriod: 200,
    });
    const logger = memoryLogger(id);
    const p = new MqttPublisher({
      url: broker.url,
      deviceId: id,
      model: MODEL,
      outboxDir: tmp("outage"),
      reconnectPeriodMs: 300,
      keepaliveS: 5,
      maxInflight: MAX_INFLIGHT,
      logger,
    });
    p.start();
    await waitUntil(() => p.connected, "the first connection");
    await sub.waitFor(discovery, 1);

    let produced = 0;
    const producer = setInterval(() => p.publishEmotion(emotionEvent(produced++, id)), EVERY_MS);
    try {
      await sleep(2000);
      const beforeOutage = produced;
      await broker.stop("SIGKILL");
      const downAt = Date.now();
      await waitUntil(() => !p.connected, "the publisher to notice");
      await sleep(OUTAGE_MS - (Date.now() - downAt));
      const depth = p.stats().depth;
      // Two messages per event (emotion and state) were queued while the broker was down.
      assert.ok(depth >= 2 * (produced - beforeOutage) - 2 * MAX_INFLIGHT, `depth ${depth}`);
      assert.ok(produced - beforeOutage >= 80, `only ${produced - beforeOutage} events in 10 s`);
      await broker.start();
      await waitUntil(() => p.connected, "the reconnection", 15_000);
      await sleep(2000);
    } finally {
      clearInterval(producer);
    }

    const total = produced;
    await waitUntil(
      () => new Set(seqs(sub.on(emotion))).size >= total,
      `all ${total} events`,
      30_000,
    );
    const got = seqs(sub.on(emotion));
    const firsts: number[] = [];
    const seen = new Set<number>();
    for (const s of got) {
      if (!seen.has(s)) firsts.push(s);
      seen.add(s);
    }
    assert.deepEqual(
      firsts,
      Array.from({ length: total }, (_, i) => i),
      "every event, first seen in order",
    );
    const duplicates = got.length - firsts.length;
    // QoS 1: a message whose PUBACK was lost when the broker went down is sent again.
    assert.ok(duplicates <= MAX_INFLIGHT, `${duplicates} duplicates`);
    for (const m of sub.on(emotion)) assert.equal(m.qos, 1);

    await waitUntil(() => p.stats().depth === 0, "an empty outbox", 15_000);
    const s = p.stats();
    assert.equal(s.reconnects, 1);
    assert.equal(s.queued, 2 * total);
    assert.ok(s.delivered >= 2 * total);
    assert.equal(s.dropped, 0);
    const state = await retained(broker.url, `ser-edge/${id}/state`);
    assert.equal(JSON.parse(state?.payload ?? "{}").window.index, total - 1, "last state");

    // The restarted broker knows nothing of the publisher's subscription: it subscribed again.
    const announced = sub.on(discovery).length;
    await sub.client.publishAsync("homeassistant/status", "online", { qos: 1 });
    await waitUntil(() => sub.on(discovery).length > announced, "discovery after HA online");

    await p.close();
    await sub.close();
    process.stderr.write(
      `# outage: ${total} events, ${duplicates} duplicate(s), reconnects ${s.reconnects}\n`,
    );
  });
});

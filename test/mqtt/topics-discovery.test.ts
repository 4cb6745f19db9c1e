import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  buildTopics,
  componentDiscovery,
  deviceDiscovery,
  discoveryRemoval,
  emotionPayload,
  eventTypes,
  haStatusTopic,
  MqttError,
  statusPayload,
} from "../../agent/src/mqtt/index.js";
import type { AgentStatus, EmotionEvent } from "../../agent/src/runtime/types.js";
import { emotionEvent, MODEL } from "./helpers.js";

const code = (c: string) => (err: unknown) => err instanceof MqttError && err.code === c;

describe("mqtt topics", () => {
  it("builds the device's topics under the base", () => {
    assert.deepEqual(buildTopics({ base: "home/ser-edge", deviceId: "kitchen-pi" }), {
      root: "home/ser-edge/kitchen-pi",
      emotion: "home/ser-edge/kitchen-pi/emotion",
      state: "home/ser-edge/kitchen-pi/state",
      availability: "home/ser-edge/kitchen-pi/availability",
      status: "home/ser-edge/kitchen-pi/status",
      modelSet: "home/ser-edge/kitchen-pi/model/set",
      modelState: "home/ser-edge/kitchen-pi/model/state",
    });
  });

  it("refuses wildcards, empty levels and $-topics in the base, with what to do", () => {
    for (const base of ["", "a/+/b", "a/#", "/a", "a/", "a//b", "$SYS/x", "a\u0000b"]) {
      assert.throws(() => buildTopics({ base, deviceId: "pi" }), code("invalid-topic"), base);
    }
    assert.throws(
      () => buildTopics({ base: "a/+", deviceId: "pi" }),
      /MQTT base topic "a\/\+": contains a wildcard .* remove it/,
    );
    assert.throws(() => buildTopics({ base: "a//b", deviceId: "pi" }), /empty level/);
  });

  it("refuses device ids that are not one plain level", () => {
    for (const deviceId of ["", "a/b", "a+", "#", "kitchen pi", "pi.local", "é"]) {
      assert.throws(() => buildTopics({ base: "ser-edge", deviceId }), code("invalid-topic"));
    }
    assert.throws(
      () => buildTopics({ base: "ser-edge", deviceId: "a/b" }),
      /MQTT device id "a\/b": contains "\/", "\+" or "#".*e\.g\. "kitchen-pi"/,
    );
    assert.doesNotThrow(() => buildTopics({ base: "ser-edge", deviceId: "Pi_2-b" }));
  });
});

describe("home assistant discovery", () => {
  const topics = buildTopics({ base: "ser-edge", deviceId: "kitchen-pi" });
  const input = { topics, deviceId: "kitchen-pi", model: MODEL, swVersion: "0.1.0" };

  it("announces one retained device-based message with an event and two sensors", () => {
    const m = deviceDiscovery(input);
    assert.equal(m.topic, "homeassistant/device/kitchen-pi/config");
    assert.equal(m.retain, true);
    assert.equal(m.qos, 1);
    const p = JSON.parse(m.payload);
    assert.deepEqual(p.dev, {
      identifiers: ["ser-edge_kitchen-pi"],
      name: "ser-edge kitchen-pi",
      manufacturer: "ser-edge",
      model: "tdnn-ravdess 1.2.0",
      sw_version: "0.1.0",
    });
    assert.equal(p.o.name, "ser-edge");
    assert.equal(p.availability_topic, "ser-edge/kitchen-pi/availability");
    assert.equal(p.payload_available, "online");
    assert.equal(p.payload_not_available, "offline");
    assert.deepEqual(Object.keys(p.cmps).sort(), ["confidence", "emotion", "last_emotion"]);
    const ev = p.cmps.emotion;
    assert.equal(ev.p, "event");
    assert.equal(ev.state_topic, "ser-edge/kitchen-pi/emotion");
    assert.deepEqual(ev.event_types, ["neutral", "happy", "sad", "angry", "unknown"]);
    assert.match(ev.value_template, /'event_type': value_json\.label/);
    assert.equal(p.cmps.last_emotion.p, "sensor");
    assert.equal(p.cmps.last_emotion.state_topic, "ser-edge/kitchen-pi/state");
    assert.equal(p.cmps.last_emotion.device_class, "enum");
    assert.deepEqual(p.cmps.last_emotion.options, ev.event_types);
    assert.equal(p.cmps.confidence.state_topic, "ser-edge/kitchen-pi/state");
    assert.equal(p.cmps.confidence.unit_of_measurement, "%");
    const ids = Object.values(p.cmps).map((c) => (c as { unique_id: string }).unique_id);
    assert.equal(new Set(ids).size, 3);
    for (const id of ids) assert.match(id, /^ser-edge_kitchen-pi_/);
  });

  it("has a one-message-per-entity layout for older Home Assistant", () => {
    const ms = componentDiscovery({ ...input, prefix: "ha", deviceName: "Kitchen" });
    assert.deepEqual(
      ms.map((m) => m.topic),
      [
        "ha/event/kitchen-pi/emotion/config",
        "ha/sensor/kitchen-pi/last_emotion/config",
        "ha/sensor/kitchen-pi/confidence/config",
      ],
    );
    for (const m of ms) {
      const p = JSON.parse(m.payload);
      assert.equal(p.p, undefined);
      assert.equal(p.device.name, "Kitchen");
      assert.equal(p.availability_topic, topics.availability);
      assert.ok(p.unique_id);
    }
    assert.deepEqual(
      discoveryRemoval(input).map((m) => [m.topic, m.payload]),
      [["homeassistant/device/kitchen-pi/config", ""]],
    );
  });

  it("lists unknown once and checks the prefix", () => {
    assert.deepEqual(eventTypes({ ...MODEL, labels: ["a", "unknown", "b"] }), [
      "a",
      "unknown",
      "b",
    ]);
    assert.equal(haStatusTopic(), "homeassistant/status");
    assert.throws(() => deviceDiscovery({ ...input, prefix: "ha/#" }), code("invalid-topic"));
  });
});

describe("payloads", () => {
  it("publish only the contract's fields (no audio or features ride along)", () => {
    const event = {
      ...emotionEvent(3),
      samples: new Float32Array(16000),
      features: [[1, 2, 3]],
    } as EmotionEvent;
    const out = emotionPayload(event);
    assert.deepEqual(Object.keys(out).sort(), [
      "confidence",
      "device",
      "duration_ms",
      "end",
      "label",
      "model",
      "scores",
      "start",
      "window",
    ]);
    assert.deepEqual(out, emotionEvent(3));
    const noWindow = emotionEvent(1);
    delete noWindow.window;
    assert.equal("window" in emotionPayload(noWindow), false);
    const status: AgentStatus = {
      device: "pi",
      uptime_s: 1,
      cpu_percent: 2,
      rss_mb: 3,
      utterances: 4,
      dropped: 0,
      queue_depth: 0,
      model_version: "1.2.0",
      reconnects: 1,
    };
    assert.deepEqual(statusPayload({ ...status, secret: "x" } as AgentStatus), status);
  });
});

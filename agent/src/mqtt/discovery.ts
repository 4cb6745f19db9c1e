import type { Manifest } from "../model/manifest.js";
import { MqttError } from "./errors.js";
import type { Topics } from "./topics.js";

/**
 * Home Assistant MQTT discovery for one device: an `event` entity fired by every classified
 * utterance, a sensor with the last emotion and one with its confidence, all grouped under one
 * device and marked unavailable when the agent is offline.
 *
 * Two layouts:
 * - "device" (default): ONE retained message on `<prefix>/device/<device_id>/config` with the
 *   device (`dev`), the origin (`o`) and the entities (`cmps`). Device-based discovery needs
 *   Home Assistant 2024.11 or later.
 * - "components": the older one-message-per-entity layout,
 *   `<prefix>/<platform>/<device_id>/<object_id>/config`, for Home Assistant before 2024.11
 *   (the `event` platform itself needs 2023.8 or later).
 *
 * Payloads and availability: `online`/`offline` on the device's availability topic.
 */

export const DEFAULT_DISCOVERY_PREFIX = "homeassistant";
export const MANUFACTURER = "ser-edge";
/** Event type (and sensor state) of an utterance below the confidence threshold. */
export const UNKNOWN_LABEL = "unknown";
export const PAYLOAD_AVAILABLE = "online";
export const PAYLOAD_NOT_AVAILABLE = "offline";

export type DiscoveryMode = "device" | "components";

/** What discovery needs to know of the model (a manifest has it all). */
export type ModelInfo = Pick<Manifest, "name" | "version" | "labels">;

export interface DiscoveryInput {
  topics: Topics;
  deviceId: string;
  /** Shown in Home Assistant; defaults to "ser-edge <deviceId>". */
  deviceName?: string;
  model: ModelInfo;
  /** Version of the agent software. */
  swVersion: string;
  /** Home Assistant's discovery prefix (its `discovery_prefix`); default "homeassistant". */
  prefix?: string;
}

export interface DiscoveryMessage {
  topic: string;
  /** JSON text; "" removes what an earlier message announced. */
  payload: string;
  qos: 1;
  retain: true;
}

type Json = Record<string, unknown>;

/** The topic Home Assistant announces itself on (`online` after it (re)starts). */
export const haStatusTopic = (prefix: string = DEFAULT_DISCOVERY_PREFIX): string =>
  `${prefix}/status`;

function checkPrefix(prefix: string): void {
  if (
    prefix.length === 0 ||
    /[+#]/.test(prefix) ||
    prefix.includes("\u0000") ||
    prefix.split("/").some((level) => level.length === 0)
  ) {
    throw new MqttError(
      "invalid-topic",
      `Home Assistant discovery prefix ${JSON.stringify(prefix)}`,
      'must be topic levels without wildcards or empty levels; Home Assistant\'s default is "homeassistant"',
    );
  }
}

/** Event types of the event entity: the model's labels and "unknown", each once. */
export function eventTypes(model: ModelInfo): string[] {
  return [...new Set([...model.labels, UNKNOWN_LABEL])];
}

/** The entities, keyed by object id, in the shape both layouts share (full option names). */
function components(input: DiscoveryInput): Record<string, Json> {
  const { topics, deviceId } = input;
  const types = eventTypes(input.model);
  const uid = (object: string) => `ser-edge_${deviceId}_${object}`;
  return {
    emotion: {
      p: "event",
      name: "Emotion",
      unique_id: uid("emotion"),
      state_topic: topics.emotion,
      event_types: types,
      // The event platform wants {"event_type": ...}; the other keys become event attributes.
      value_template:
        "{{ {'event_type': value_json.label, 'confidence': value_json.confidence, " +
        "'scores': value_json.scores, 'start': value_json.start, 'end': value_json.end, " +
        "'duration_ms': value_json.duration_ms} | to_json }}",
      icon: "mdi:account-voice",
    },
    last_emotion: {
      p: "sensor",
      name: "Last emotion",
      unique_id: uid("last_emotion"),
      state_topic: topics.state,
      value_template: "{{ value_json.label }}",
      device_class: "enum",
      options: types,
      json_attributes_topic: topics.state,
      json_attributes_template:
        "{{ {'confidence': value_json.confidence, 'scores': value_json.scores, " +
        "'start': value_json.start, 'end': value_json.end} | to_json }}",
      icon: "mdi:emoticon-outline",
    },
    confidence: {
      p: "sensor",
      name: "Emotion confidence",
      unique_id: uid("confidence"),
      state_topic: topics.state,
      value_template: "{{ (value_json.confidence * 100) | round(1) }}",
      unit_of_measurement: "%",
      state_class: "measurement",
      icon: "mdi:gauge",
    },
  };
}

function device(input: DiscoveryInput): Json {
  return {
    identifiers: [`ser-edge_${input.deviceId}`],
    name: input.deviceName ?? `ser-edge ${input.deviceId}`,
    manufacturer: MANUFACTURER,
    model: `${input.model.name} ${input.model.version}`,
    sw_version: input.swVersion,
  };
}

const origin = (input: DiscoveryInput): Json => ({
  name: "ser-edge",
  sw_version: input.swVersion,
});

const availability = (input: DiscoveryInput): Json => ({
  availability_topic: input.topics.availability,
  payload_available: PAYLOAD_AVAILABLE,
  payload_not_available: PAYLOAD_NOT_AVAILABLE,
});

/** `<prefix>/device/<device_id>/config`: the device-based discovery topic. */
export const deviceDiscoveryTopic = (
  deviceId: string,
  prefix: string = DEFAULT_DISCOVERY_PREFIX,
): string => `${prefix}/device/${deviceId}/config`;

/** Device-based discovery: one retained message describing the device and its three entities. */
export function deviceDiscovery(input: DiscoveryInput): DiscoveryMessage {
  const prefix = input.prefix ?? DEFAULT_DISCOVERY_PREFIX;
  checkPrefix(prefix);
  const payload = {
    dev: device(input),
    o: origin(input),
    ...availability(input),
    qos: 1,
    cmps: components(input),
  };
  return {
    topic: deviceDiscoveryTopic(input.deviceId, prefix),
    payload: JSON.stringify(payload),
    qos: 1,
    retain: true,
  };
}

/** One-message-per-entity discovery, for Home Assistant before 2024.11. */
export function componentDiscovery(input: DiscoveryInput): DiscoveryMessage[] {
  const prefix = input.prefix ?? DEFAULT_DISCOVERY_PREFIX;
  checkPrefix(prefix);
  return Object.entries(components(input)).map(([object, { p, ...config }]) => ({
    topic: `${prefix}/${String(p)}/${input.deviceId}/${object}/config`,
    payload: JSON.stringify({
      ...config,
      device: device(input),
      origin: origin(input),
      ...availability(input),
      qos: 1,
    }),
    qos: 1 as const,
    retain: true as const,
  }));
}

export function discoveryMessages(
  input: DiscoveryInput,
  mode: DiscoveryMode = "device",
): DiscoveryMessage[] {
  return mode === "device" ? [deviceDiscovery(input)] : componentDiscovery(input);
}

/** Empty retained payloads on the same topics: Home Assistant removes the device's entities. */
export function discoveryRemoval(
  input: DiscoveryInput,
  mode: DiscoveryMode = "device",
): DiscoveryMessage[] {
  return discoveryMessages(input, mode).map((m) => ({ ...m, payload: "" }));
}

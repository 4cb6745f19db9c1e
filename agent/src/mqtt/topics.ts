import { MqttError } from "./errors.js";

/** Where a device publishes: `<base>/<deviceId>/...`. */
export interface TopicConfig {
  /** One or more topic levels, e.g. "ser-edge" or "home/ser-edge". */
  base: string;
  /** One topic level identifying the device, e.g. "kitchen-pi". */
  deviceId: string;
}

export interface Topics {
  /** `<base>/<device_id>`: the device's own subtree. */
  root: string;
  /** Every classified utterance (QoS 1, not retained). */
  emotion: string;
  /** The last emotion (retained), what dashboards and sensors read. */
  state: string;
  /** `online` / `offline` (retained; `offline` is also the Last Will). */
  availability: string;
  /** Health figures every N seconds (retained). */
  status: string;
  /** Model bundles for this device alone (retained, from `ser-trainer push --device`). */
  modelSet: string;
  /** The outcome of the last rollout on this device (retained): applied, rejected, rolled_back. */
  modelState: string;
}

/** `<base>/fleet/<fleet>/model`: bundles for every device of a fleet (retained). */
export function fleetModelTopic(base: string, fleet: string): string {
  validateBaseTopic(base);
  validateFleet(fleet);
  return `${base}/fleet/${fleet}/model`;
}

/** Fleet names are one topic level, like device ids. */
export function validateFleet(fleet: string): void {
  if (typeof fleet !== "string" || !DEVICE_ID.test(fleet) || fleet.length > 128) {
    throw new MqttError(
      "invalid-topic",
      `fleet name ${JSON.stringify(fleet)}`,
      'must be one topic level of letters, digits, "_" and "-" (e.g. "living-rooms"), at most 128 characters',
    );
  }
}

export const DEFAULT_BASE_TOPIC = "ser-edge";

/**
 * Device ids become a topic level and Home Assistant discovery ids (node_id, unique_id), which
 * allow only these characters.
 */
const DEVICE_ID = /^[A-Za-z0-9_-]+$/;
/** MQTT limits a topic to 65535 bytes of UTF-8; leave room for the device id and the leaf. */
const MAX_BASE_BYTES = 32_000;

/** Throws "invalid-topic" unless `base` can prefix topics (levels without wildcards). */
export function validateBaseTopic(base: string): void {
  const subject = `MQTT base topic ${JSON.stringify(base)}`;
  const fail = (problem: string): never => {
    throw new MqttError("invalid-topic", subject, problem);
  };
  if (typeof base !== "string" || base.length === 0) {
    fail('is empty; set one or more topic levels such as "ser-edge" or "home/ser-edge"');
  }
  if (base.includes("+") || base.includes("#")) {
    fail('contains a wildcard ("+" or "#"), which is only valid in subscriptions; remove it');
  }
  if (base.includes("\u0000")) fail("contains a NUL character; remove it");
  if (base.split("/").some((level) => level.length === 0)) {
    fail('has an empty level (a leading or trailing "/" or "//"); remove the extra slash');
  }
  if (base.startsWith("$")) {
    fail('starts with "$", which brokers reserve for their own topics ($SYS); choose another');
  }
  if (Buffer.byteLength(base, "utf8") > MAX_BASE_BYTES) {
    fail(`is longer than ${MAX_BASE_BYTES} bytes; use a shorter prefix`);
  }
}

/** Throws "invalid-topic" unless `deviceId` is one level of letters, digits, "_" and "-". */
export function validateDeviceId(deviceId: string): void {
  if (typeof deviceId !== "string" || !DEVICE_ID.test(deviceId)) {
    const what =
      typeof deviceId !== "string" || deviceId.length === 0
        ? "is empty"
        : /[+#/]/.test(deviceId)
          ? 'contains "/", "+" or "#"'
          : "contains characters other than letters, digits, '_' and '-'";
    throw new MqttError(
      "invalid-topic",
      `MQTT device id ${JSON.stringify(deviceId)}`,
      `${what}: it is one topic level and a Home Assistant id; use letters, digits, "_" and "-" (e.g. "kitchen-pi")`,
    );
  }
  if (deviceId === "fleet") {
    throw new MqttError(
      "invalid-topic",
      'MQTT device id "fleet"',
      "is reserved: <base>/fleet/... carries the fleet-wide model rollouts; choose another name",
    );
  }
  if (deviceId.length > 128) {
    throw new MqttError(
      "invalid-topic",
      `MQTT device id ${JSON.stringify(deviceId)}`,
      "is longer than 128 characters; use a shorter name",
    );
  }
}

/** The device's topics; throws "invalid-topic" for an unusable base or device id. */
export function buildTopics({ base, deviceId }: TopicConfig): Topics {
  validateBaseTopic(base);
  validateDeviceId(deviceId);
  const root = `${base}/${deviceId}`;
  return {
    root,
    emotion: `${root}/emotion`,
    state: `${root}/state`,
    availability: `${root}/availability`,
    status: `${root}/status`,
    modelSet: `${root}/model/set`,
    modelState: `${root}/model/state`,
  };
}

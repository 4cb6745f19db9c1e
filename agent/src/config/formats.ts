import { accessSync, constants, statSync } from "node:fs";
import convict from "convict";

/**
 * Value formats of the agent's configuration, registered with convict by name. Each one says
 * what a valid value looks like (`describe`, for the reference table and for error messages),
 * checks a value (`validate`, throwing a one-line reason), and turns the text of an environment
 * variable or a command-line argument into a value (`coerce`) strictly: convict's own coercions
 * read "12abc" as 12 and "flase" as true, these leave such text alone so that it fails.
 */

/** The schema attributes a format may read (ranges). */
export interface RangeAttributes {
  min?: number;
  max?: number;
}

export interface FormatDefinition {
  describe(item: RangeAttributes): string;
  validate(value: unknown, item: RangeAttributes): void;
  coerce?(text: string): unknown;
}

const fail = (reason: string): never => {
  throw new Error(reason);
};

function checkRange(n: number, item: RangeAttributes): void {
  if (item.min !== undefined && n < item.min) fail(`is less than ${item.min}`);
  if (item.max !== undefined && n > item.max) fail(`is more than ${item.max}`);
}

function describeRange(kind: string, item: RangeAttributes): string {
  const { min, max } = item;
  if (min !== undefined && max !== undefined) return `${kind} from ${min} to ${max}`;
  if (min !== undefined) return `${kind} >= ${min}`;
  if (max !== undefined) return `${kind} <= ${max}`;
  return kind;
}

function checkString(value: unknown): asserts value is string {
  if (typeof value !== "string") fail(`is ${jsonType(value)}, not text`);
}

/** "a number", "an object", ... for messages about a value of the wrong JSON type. */
export function jsonType(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const t = typeof value;
  return t === "object" || t === "undefined" ? `an ${t}` : `a ${t}`;
}

const TRUE_WORDS = new Set(["true", "1", "yes", "on"]);
const FALSE_WORDS = new Set(["false", "0", "no", "off"]);

/** One MQTT topic level usable as a Home Assistant id: the same rule as the MQTT module's. */
const DEVICE_ID = /^[A-Za-z0-9_-]{1,128}$/;
export const MQTT_URL_PROTOCOLS = ["mqtt:", "mqtts:", "tcp:", "tls:", "ws:", "wss:"];

function checkTopic(value: string): void {
  if (value.length === 0) fail("is empty");
  if (/[+#]/.test(value)) fail('contains a wildcard ("+" or "#"), which only subscriptions use');
  if (value.includes("\u0000")) fail("contains a NUL character");
  if (value.split("/").some((level) => level === "")) {
    fail('has an empty level (a leading or trailing "/", or "//")');
  }
  if (value.startsWith("$")) fail('starts with "$", which brokers reserve ($SYS)');
}

function checkExisting(value: string, want: "file" | "directory" | "any"): void {
  let st: ReturnType<typeof statSync>;
  try {
    st = statSync(value);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    fail(code === "ENOENT" ? "does not exist" : `cannot be read (${code})`);
    return;
  }
  if (want === "file" && !st.isFile()) fail("is not a regular file");
  if (want === "directory" && !st.isDirectory()) fail("is not a directory");
  try {
    accessSync(value, constants.R_OK);
  } catch {
    fail("is not readable by this user");
  }
}

const integerText = (text: string): unknown =>
  /^\s*[+-]?\d+\s*$/.test(text) ? Number(text) : text;

export const FORMATS = {
  flag: {
    describe: () => "true or false",
    validate(value) {
      if (typeof value !== "boolean") fail("is neither true nor false");
    },
    coerce(text) {
      const t = text.trim().toLowerCase();
      return TRUE_WORDS.has(t) ? true : FALSE_WORDS.has(t) ? false : text;
    },
  },
  integer: {
    describe: (item) => describeRange("integer", item),
    validate(value, item) {
      if (typeof value !== "number" || !Number.isSafeInteger(value)) fail("is not an integer");
      checkRange(value as number, item);
    },
    coerce: integerText,
  },
  number: {
    describe: (item) => describeRange("number", item),
    validate(value, item) {
      if (typeof value !== "number" || !Number.isFinite(value)) fail("is not a number");
      checkRange(value as number, item);
    },
    coerce(text) {
      const n = Number(text);
      return text.trim() !== "" && Number.isFinite(n) ? n : text;
    },
  },
  "tcp-port": {
    describe: () => "TCP port from 1 to 65535",
    validate(value) {
      if (typeof value !== "number" || !Number.isInteger(value) || value < 1 || value > 65535) {
        fail("is not a TCP port");
      }
    },
    coerce: integerText,
  },
  text: {
    describe: () => "text",
    validate: checkString,
  },
  "nonempty-text": {
    describe: () => "non-empty text",
    validate(value) {
      checkString(value);
      if (value.trim() === "") fail("is empty");
    },
  },
  topic: {
    describe: () =>
      'MQTT topic: levels separated by "/", no "+", "#" or empty level, no leading "$"',
    validate(value) {
      checkString(value);
      checkTopic(value);
    },
  },
  "device-id": {
    describe: () => 'empty, or one topic level: 1 to 128 letters, digits, "_" or "-"',
    validate(value) {
      checkString(value);
      if (value !== "" && !DEVICE_ID.test(value)) {
        fail(
          value.length > 128
            ? "is longer than 128 characters"
            : 'has characters other than letters, digits, "_" and "-" (it is one MQTT topic level and a Home Assistant id)',
        );
      }
    },
  },
  "mqtt-url": {
    describe: () =>
      `empty, or a broker URL (${MQTT_URL_PROTOCOLS.map((p) => `${p}//`).join(", ")})`,
    validate(value) {
      checkString(value);
      if (value === "") return;
      let url: URL;
      try {
        url = new URL(value);
      } catch {
        fail("is not a URL");
        return;
      }
      if (!MQTT_URL_PROTOCOLS.includes(url.protocol)) {
        fail(`has the protocol "${url.protocol}"`);
      }
      if (url.hostname === "") fail("has no host");
    },
  },
  "file-if-set": {
    describe: () => "empty, or the path of an existing readable file",
    validate(value) {
      checkString(value);
      if (value !== "") checkExisting(value, "file");
    },
  },
  "dir-if-set": {
    describe: () => "empty, or the path of an existing directory",
    validate(value) {
      checkString(value);
      if (value !== "") checkExisting(value, "directory");
    },
  },
  "path-if-set": {
    describe: () => "empty, or the path of an existing readable file or directory",
    validate(value) {
      checkString(value);
      if (value !== "") checkExisting(value, "any");
    },
  },
} satisfies Record<string, FormatDefinition>;

export type FormatName = keyof typeof FORMATS;

let registered = false;

/** Registers the formats with convict (process-wide, once). */
export function registerFormats(): void {
  if (registered) return;
  registered = true;
  for (const [name, def] of Object.entries(FORMATS) as [string, FormatDefinition][]) {
    convict.addFormat({
      name,
      validate: (value: unknown, item: convict.SchemaObj) =>
        def.validate(value, item as RangeAttributes),
      ...(def.coerce
        ? { coerce: (v: unknown) => (typeof v === "string" ? def.coerce?.(v) : v) }
        : {}),
    });
  }
}

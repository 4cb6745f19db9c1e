import type convict from "convict";
import type { LogFormat, LogLevel } from "../log/logger.js";
import { FORMATS, type FormatName, type RangeAttributes, registerFormats } from "./formats.js";

/**
 * The agent's configuration: every setting the runtime reads, with its documentation, format,
 * default, environment variable and command-line argument. This file is the single source:
 * `config/README.md` and `config/ser-agent.example.json` are generated from it (and a test
 * fails when they drift), `ser-agent config --docs` prints the same reference.
 *
 * Names: a key `mqtt.baseTopic` is set in the JSON file as `{"mqtt": {"baseTopic": ...}}`, by
 * the environment variable `SER_MQTT_BASE_TOPIC` and by the argument `--mqtt-base-topic`; the
 * two last are derived from the key (see envName, argName) so that they can be guessed.
 * Secrets (`sensitive`) have no argument: a command line is visible to every user in `ps`.
 *
 * Empty means automatic: a few settings default to "" and are resolved when the configuration
 * is loaded (the device id from the hostname, the model directory, the MQTT client id, the
 * outbox directory); `defaultText` says how.
 */

export type InputSource = "mic" | "file" | "-";
export type DiscoveryLayout = "device" | "components";

export interface AgentConfig {
  device: {
    id: string;
    fleet: string;
  };
  model: {
    dir: string;
    trustedKeys: string;
    requireSignature: boolean;
  };
  rollout: {
    enabled: boolean;
    dir: string;
    maxBytes: number;
    probationSec: number;
    maxModelErrors: number;
  };
  input: {
    source: InputSource;
    alsaDevice: string;
    file: string;
    fast: boolean;
    periodMs: number;
  };
  vad: {
    energyThresholdDb: number;
    threshold: number;
    preRollMs: number;
    hangoverMs: number;
    minSpeechMs: number;
    maxUtteranceMs: number;
    windowOverlapMs: number;
    modelRuntime: "wasm" | "onnxruntime";
    modelSampleRate: 16000 | 8000;
  };
  inference: {
    runtime: "auto" | "wasm" | "onnxruntime";
    threads: number;
    queueLength: number;
    confidenceThreshold: number;
  };
  mqtt: {
    url: string;
    embeddedPort: number;
    baseTopic: string;
    clientId: string;
    username: string;
    password: string;
    ca: string;
    cert: string;
    key: string;
    keepaliveSec: number;
    reconnectPeriodMs: number;
    statusIntervalSec: number;
    outbox: {
      dir: string;
      maxMessages: number;
      maxBytes: number;
    };
    homeAssistant: {
      discovery: boolean;
      prefix: string;
      layout: DiscoveryLayout;
    };
  };
  log: {
    level: LogLevel;
    format: LogFormat;
  };
  service: {
    watchdog: boolean;
  };
}

/** One setting. */
export interface SettingSpec<T> extends RangeAttributes {
  doc: string;
  default: T;
  /** A named format (see formats.ts) or the list of allowed values. */
  format: FormatName | readonly T[];
  /** Masked by `redacted()` and in error messages, and never read from the command line. */
  sensitive?: boolean;
  /** How an empty default is resolved at load time, for the docs. */
  defaultText?: string;
}

type Leaf = string | number | boolean;
export type SchemaTree<T> = {
  [K in keyof T]: T[K] extends Leaf ? SettingSpec<T[K]> : SchemaTree<T[K]>;
};

const ms = (doc: string, def: number, min: number, max: number): SettingSpec<number> => ({
  doc,
  default: def,
  format: "integer",
  min,
  max,
});

export const SCHEMA: SchemaTree<AgentConfig> = {
  device: {
    id: {
      doc: "Name of this device: its MQTT topic level (<baseTopic>/<id>/...) and its Home Assistant device id. Must be unique among the devices on one broker.",
      default: "",
      format: "device-id",
      defaultText:
        'the hostname up to its first ".", in lower case, with other characters than letters, digits, "_" and "-" replaced by "-"',
    },
    fleet: {
      doc: "Fleet this device belongs to: it takes the models pushed to <baseTopic>/fleet/<fleet>/model (`ser-trainer push --fleet`). Empty: only models pushed to this device by id.",
      default: "",
      format: "device-id",
    },
  },
  model: {
    dir: {
      doc: "The installed model bundle (manifest.json and model.onnx, from `ser-trainer export`): used until a rollout installs a newer one, and the last resort when a rolled-out model fails.",
      default: "",
      format: "dir-if-set",
      defaultText: "<install dir>/models/default, as `ser-agent classify` resolves it",
    },
    trustedKeys: {
      doc: "Trust store: a public key (PEM) or a directory of *.pub keys. A model arriving by rollout must be signed by one of them (and rollout is off while this is empty); see model.requireSignature for the installed model.",
      default: "",
      format: "path-if-set",
    },
    requireSignature: {
      doc: "Also require a trusted signature on the installed model in model.dir, or refuse to start. Off by default: that model was put there by whoever installed the agent (the bundled default is not signed), while rolled-out models are always checked.",
      default: false,
      format: "flag",
    },
  },
  rollout: {
    enabled: {
      doc: "Accept model bundles pushed over MQTT (`ser-trainer push`) on <baseTopic>/<device.id>/model/set and, with device.fleet, <baseTopic>/fleet/<device.fleet>/model. Effective only with model.trustedKeys and a rollout.dir.",
      default: true,
      format: "flag",
    },
    dir: {
      doc: "Where rolled-out bundles are kept (the current one and the previous one, for rollback).",
      default: "",
      format: "text",
      defaultText:
        "$STATE_DIRECTORY/models when systemd sets STATE_DIRECTORY (StateDirectory= in the unit), else none: rollout is off",
    },
    maxBytes: {
      doc: "Largest bundle accepted over MQTT, in bytes; larger ones are rejected before anything is parsed.",
      default: 67_108_864,
      format: "integer",
      min: 1024,
      max: 268_435_455,
    },
    probationSec: {
      doc: "After a rollout, the new model is on probation this long: if the agent dies or the model fails rollout.maxModelErrors times in that time, the previous model comes back and the device reports rolled_back.",
      default: 600,
      format: "integer",
      min: 0,
      max: 604_800,
    },
    maxModelErrors: {
      doc: "Failed classifications during probation that roll the model back.",
      default: 3,
      format: "integer",
      min: 1,
      max: 1000,
    },
  },
  input: {
    source: {
      doc: 'Where audio comes from: "mic" (ALSA capture), "file" (input.file, for tests and demos), "-" (raw 16 kHz mono signed 16-bit little-endian PCM on stdin).',
      default: "mic",
      format: ["mic", "file", "-"],
    },
    alsaDevice: {
      doc: 'ALSA capture device for input.source "mic", as `arecord -L` lists them (e.g. "plughw:CARD=Device,DEV=0").',
      default: "default",
      format: "nonempty-text",
    },
    file: {
      doc: 'Audio file (WAV, FLAC, MP3) for input.source "file"; required then.',
      default: "",
      format: "file-if-set",
    },
    fast: {
      doc: 'With input.source "file": process the file as fast as possible instead of at real-time pace.',
      default: false,
      format: "flag",
    },
    periodMs: {
      doc: "How much audio the agent takes per wake-up: the ALSA period (arecord --period-time) and the chunk of file playback. Each wake-up costs CPU on its own, so longer periods cost less in a quiet room (BENCHMARKS.md); an utterance's end is seen up to one period later.",
      default: 100,
      format: "integer",
      min: 10,
      max: 500,
    },
  },
  vad: {
    energyThresholdDb: {
      doc: "Energy gate: a frame is a speech candidate when its energy is this many dB above the tracked noise floor (5 measured best: BENCHMARKS.md, voice activity). Raise it in noisy rooms.",
      default: 5,
      format: "number",
      min: 0,
      max: 60,
    },
    threshold: {
      doc: "Trained voice-activity model: speech probability at or above which a candidate frame counts as speech. Higher is more aggressive (fewer utterances started by noise, more soft speech missed).",
      default: 0.5,
      format: "number",
      min: 0,
      max: 1,
    },
    preRollMs: ms("Audio kept from before speech starts, so onsets are not cut.", 300, 0, 2000),
    hangoverMs: ms(
      "Silence after speech before the utterance is closed, so short pauses do not split it.",
      400,
      0,
      5000,
    ),
    minSpeechMs: ms("Utterances with less speech than this are dropped.", 500, 0, 10000),
    maxUtteranceMs: ms(
      "Longer speech is classified in windows of this length (EmotionEvent.window).",
      8000,
      1000,
      60000,
    ),
    windowOverlapMs: ms(
      "Overlap between consecutive windows of a long utterance; less than vad.maxUtteranceMs.",
      1000,
      0,
      30000,
    ),
    modelRuntime: {
      doc: "Where the trained voice-activity model (Silero v6) runs: wasm, the agent's own WebAssembly forward pass of its 16 kHz network (about half the CPU of ONNX Runtime per window, the same probabilities to ~1e-6: BENCHMARKS.md, voice activity), or onnxruntime. vad.modelSampleRate 8000 always runs on ONNX Runtime.",
      default: "wasm",
      format: ["wasm", "onnxruntime"],
    },
    modelSampleRate: {
      doc: "The rate the trained voice-activity model (Silero) runs at: 8000 (its 8 kHz branch, on audio decimated in the agent, on ONNX Runtime) costs about 28% less CPU than 16000 on ONNX Runtime for a frame F1 about 1 point lower, but more than 16000 in WebAssembly (the default); kept for comparison. Emotion features always use the full 16 kHz.",
      default: 16000,
      format: [16000, 8000],
    },
  },
  inference: {
    runtime: {
      doc: "Where the emotion model runs: wasm, the agent's own engine (int8 convolutions in WebAssembly; ONNX Runtime is then never loaded, 38 MiB less resident memory: BENCHMARKS.md, agent runtime), onnxruntime, or auto: wasm when the engine runs the model's graph (the trainer's TDNN, CNN and MLP exports), else ONNX Runtime (an LSTM, int8 activations).",
      default: "auto",
      format: ["auto", "wasm", "onnxruntime"],
    },
    threads: {
      doc: "ONNX Runtime intra-op threads (inference.runtime onnxruntime). 1 leaves the other cores to audio capture and MQTT.",
      default: 1,
      format: "integer",
      min: 1,
      max: 64,
    },
    queueLength: {
      doc: "Utterances waiting for inference; when full, the oldest is dropped and counted in the status `dropped`.",
      default: 8,
      format: "integer",
      min: 1,
      max: 1000,
    },
    confidenceThreshold: {
      doc: 'Below this confidence the label published is "unknown" (the scores are still sent). 0 always publishes the winning label.',
      default: 0.4,
      format: "number",
      min: 0,
      max: 1,
    },
  },
  mqtt: {
    url: {
      doc: "Broker URL, e.g. mqtt://broker.local:1883 or mqtts://broker.local:8883. Empty: start the embedded broker on 127.0.0.1:<mqtt.embeddedPort>. Put credentials in mqtt.username/mqtt.password rather than in the URL.",
      default: "",
      format: "mqtt-url",
    },
    embeddedPort: {
      doc: "Port of the embedded broker (used when mqtt.url is empty); it listens on 127.0.0.1 only.",
      default: 1883,
      format: "tcp-port",
    },
    baseTopic: {
      doc: "First topic level(s): the agent publishes on <baseTopic>/<device.id>/emotion, /state, /availability and /status.",
      default: "ser-edge",
      format: "topic",
    },
    clientId: {
      doc: "MQTT client id.",
      default: "",
      format: "text",
      defaultText: "ser-edge-<device.id>",
    },
    username: {
      doc: "Broker user name; empty for none.",
      default: "",
      format: "text",
    },
    password: {
      doc: "Broker password; empty for none. Prefer the environment variable or a file readable only by the service user.",
      default: "",
      format: "text",
      sensitive: true,
    },
    ca: {
      doc: "CA certificate (PEM) to verify the broker with, for mqtts:// and wss:// (default: the system's CAs).",
      default: "",
      format: "file-if-set",
    },
    cert: {
      doc: "Client certificate (PEM) for TLS client authentication; needs mqtt.key.",
      default: "",
      format: "file-if-set",
    },
    key: {
      doc: "Private key (PEM) of mqtt.cert.",
      default: "",
      format: "file-if-set",
    },
    keepaliveSec: {
      doc: "MQTT keepalive: the broker considers the agent gone (and publishes its offline will) after 1.5 times this without traffic. 0 disables it.",
      default: 60,
      format: "integer",
      min: 0,
      max: 65535,
    },
    reconnectPeriodMs: {
      doc: "Wait between reconnection attempts after the broker connection is lost.",
      default: 5000,
      format: "integer",
      min: 100,
      max: 3_600_000,
    },
    statusIntervalSec: {
      doc: "Period of the health message on <baseTopic>/<device.id>/status; 0 disables it.",
      default: 60,
      format: "integer",
      min: 0,
      max: 86400,
    },
    outbox: {
      dir: {
        doc: "Where events wait while the broker is unreachable, so that they survive a restart.",
        default: "",
        format: "text",
        defaultText:
          "$STATE_DIRECTORY/outbox when systemd sets STATE_DIRECTORY (StateDirectory= in the unit), else none: events wait in memory only",
      },
      maxMessages: {
        doc: "Most events kept in the outbox; beyond it the oldest are dropped.",
        default: 10000,
        format: "integer",
        min: 1,
        max: 10_000_000,
      },
      maxBytes: {
        doc: "Most bytes of events kept in the outbox; beyond it the oldest are dropped.",
        default: 10_485_760,
        format: "integer",
        min: 1024,
        max: 10_737_418_240,
      },
    },
    homeAssistant: {
      discovery: {
        doc: "Publish Home Assistant MQTT discovery messages (retained) so that the device and its emotion sensors appear in Home Assistant without any configuration there.",
        default: true,
        format: "flag",
      },
      prefix: {
        doc: "Home Assistant's discovery prefix (its MQTT integration's discovery_prefix).",
        default: "homeassistant",
        format: "topic",
      },
      layout: {
        doc: 'Discovery messages: "device" (one message for the whole device, Home Assistant 2024.11 or later) or "components" (one per entity, older versions).',
        default: "device",
        format: ["device", "components"],
      },
    },
  },
  log: {
    level: {
      doc: "Least severe level written.",
      default: "info",
      format: ["debug", "info", "warn", "error"],
    },
    format: {
      doc: 'Line format on stderr: "json" (one object per line) or "logfmt" (key=value).',
      default: "json",
      format: ["json", "logfmt"],
    },
  },
  service: {
    watchdog: {
      doc: "Send WATCHDOG=1 to systemd while the pipeline is healthy, when the unit sets WatchdogSec= (otherwise there is nothing to do).",
      default: true,
      format: "flag",
    },
  },
};

/** `maxMessages` → `MAX_MESSAGES`. */
const upperSnake = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toUpperCase();
/** `maxMessages` → `max-messages`. */
const kebab = (s: string) => s.replace(/([a-z0-9])([A-Z])/g, "$1-$2").toLowerCase();

/** `mqtt.baseTopic` → `SER_MQTT_BASE_TOPIC`. */
export const envName = (key: string): string => `SER_${key.split(".").map(upperSnake).join("_")}`;

/** `mqtt.baseTopic` → `mqtt-base-topic` (used as `--mqtt-base-topic`). */
export const argName = (key: string): string => key.split(".").map(kebab).join("-");

/** The environment variable naming the configuration file when --config is not given. */
export const CONFIG_FILE_ENV = "SER_CONFIG";

export interface Setting {
  /** Dotted path, e.g. "mqtt.baseTopic". */
  key: string;
  spec: SettingSpec<Leaf>;
  env: string;
  /** Without the leading "--"; undefined for sensitive settings. */
  arg: string | undefined;
}

const isSpec = (node: object): node is SettingSpec<Leaf> => "doc" in node && "default" in node;

function collect(node: object, prefix: string, out: Setting[]): Setting[] {
  for (const [name, child] of Object.entries(node) as [string, object][]) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (isSpec(child)) {
      out.push({
        key,
        spec: child,
        env: envName(key),
        arg: child.sensitive ? undefined : argName(key),
      });
    } else {
      collect(child, key, out);
    }
  }
  return out;
}

/** Every setting, in schema order. */
export const SETTINGS: readonly Setting[] = collect(SCHEMA, "", []);

export const SETTINGS_BY_KEY: ReadonlyMap<string, Setting> = new Map(
  SETTINGS.map((s) => [s.key, s]),
);

/** The groups (objects) of the schema, e.g. "mqtt", "mqtt.outbox". */
export const GROUPS: ReadonlySet<string> = new Set(
  SETTINGS.flatMap((s) => {
    const parts = s.key.split(".");
    return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join("."));
  }),
);

/** What a valid value of a setting looks like, in words. */
export function describeFormat(spec: SettingSpec<Leaf>): string {
  if (Array.isArray(spec.format)) return `one of ${spec.format.map((v) => `"${v}"`).join(", ")}`;
  return FORMATS[spec.format as FormatName].describe(spec);
}

/** The convict schema: SCHEMA with env and arg names, formats registered. */
export function convictSchema(): convict.Schema<AgentConfig> {
  registerFormats();
  const build = (node: object, prefix: string): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const [name, child] of Object.entries(node) as [string, object][]) {
      const key = prefix ? `${prefix}.${name}` : name;
      if (isSpec(child)) {
        const { defaultText: _shownOnly, ...rest } = child;
        const setting = SETTINGS_BY_KEY.get(key) as Setting;
        out[name] = {
          ...rest,
          format: Array.isArray(child.format) ? [...child.format] : child.format,
          env: setting.env,
          // Documentation only: loadConfig parses arguments itself (strictly) and passes convict
          // none, so that its yargs-parser never turns "007" or "1e3" into numbers.
          ...(setting.arg ? { arg: setting.arg } : {}),
        };
      } else {
        out[name] = build(child, key);
      }
    }
    return out;
  };
  return build(SCHEMA, "") as convict.Schema<AgentConfig>;
}

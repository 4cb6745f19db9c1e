import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  type AgentConfig,
  argName,
  ConfigError,
  defaultModelDir,
  EX_CONFIG,
  envName,
  loadConfig,
  redacted,
  SETTINGS,
  sanitiseHostname,
  suggestKey,
} from "../../agent/src/config/index.js";

const dir = mkdtempSync(join(tmpdir(), "ser-config-"));
let n = 0;
function file(content: unknown): string {
  const path = join(dir, `c${n++}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

/** The ConfigError of a load that must fail. */
function failure(options: Parameters<typeof loadConfig>[0]): ConfigError {
  try {
    loadConfig({ env: {}, args: [], ...options });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${err}`);
    assert.equal(err.exitCode, EX_CONFIG);
    return err;
  }
  assert.fail("the configuration was accepted");
}

describe("loadConfig: defaults", () => {
  it("accepts the defaults and resolves the automatic settings", () => {
    const c = loadConfig({ env: {}, args: [], hostname: "Kitchen Pi.local" });
    assert.equal(c.device.id, "kitchen-pi");
    assert.equal(c.model.dir, defaultModelDir());
    assert.ok(c.model.dir.endsWith(join("models", "default")));
    assert.equal(c.mqtt.clientId, "ser-edge-kitchen-pi");
    assert.equal(c.mqtt.outbox.dir, "", "no STATE_DIRECTORY: in memory");
    assert.equal(c.input.source, "mic");
    assert.equal(c.input.alsaDevice, "default");
    assert.equal(c.inference.threads, 1);
    assert.equal(c.mqtt.url, "");
    assert.equal(c.mqtt.baseTopic, "ser-edge");
    assert.equal(c.mqtt.homeAssistant.prefix, "homeassistant");
    assert.equal(c.log.format, "json");
    assert.equal(c.service.watchdog, true);
  });

  it("puts the outbox in systemd's StateDirectory", () => {
    const c = loadConfig({ env: { STATE_DIRECTORY: "/var/lib/ser-edge:/other" }, args: [] });
    assert.equal(c.mqtt.outbox.dir, join("/var/lib/ser-edge", "outbox"));
  });

  it("sanitises hostnames into device ids", () => {
    assert.equal(sanitiseHostname("raspberrypi"), "raspberrypi");
    assert.equal(sanitiseHostname("Living Room #2.lan"), "living-room-2");
    assert.equal(sanitiseHostname("...."), "ser-edge");
    assert.equal(sanitiseHostname("x".repeat(100)).length, 64);
  });

  it("names every setting's variable and argument predictably, without collisions", () => {
    assert.equal(envName("mqtt.outbox.maxMessages"), "SER_MQTT_OUTBOX_MAX_MESSAGES");
    assert.equal(argName("mqtt.outbox.maxMessages"), "mqtt-outbox-max-messages");
    const envs = SETTINGS.map((s) => s.env);
    const args = SETTINGS.flatMap((s) => (s.arg ? [s.arg] : []));
    assert.equal(new Set(envs).size, envs.length);
    assert.equal(new Set(args).size, args.length);
    for (const s of SETTINGS) {
      assert.ok(s.spec.doc.length > 10, `${s.key} has a doc`);
      if (s.spec.sensitive) assert.equal(s.arg, undefined, `${s.key} is secret: no argument`);
    }
  });
});

describe("loadConfig: sources", () => {
  it("applies file, then environment, then arguments", () => {
    const f = file({
      mqtt: { baseTopic: "home/from-file", keepaliveSec: 10 },
      log: { level: "warn" },
      vad: { hangoverMs: 100 },
    });
    const c = loadConfig({
      file: f,
      env: { SER_LOG_LEVEL: "error", SER_VAD_HANGOVER_MS: "200", SER_MQTT_KEEPALIVE_SEC: "20" },
      args: ["--vad-hangover-ms", "300", "--mqtt-keepalive-sec=30"],
    });
    assert.equal(c.mqtt.baseTopic, "home/from-file", "file over default");
    assert.equal(c.log.level, "error", "environment over file");
    assert.equal(c.vad.hangoverMs, 300, "argument over environment");
    assert.equal(c.mqtt.keepaliveSec, 30);
  });

  it("reads typed values from text strictly", () => {
    const c = loadConfig({
      env: { SER_INPUT_FAST: "yes", SER_SERVICE_WATCHDOG: "off", SER_VAD_THRESHOLD: "0.75" },
      args: ["--mqtt-home-assistant-discovery", "--input-source", "-", "--mqtt-username=007"],
    });
    assert.equal(c.input.fast, true);
    assert.equal(c.service.watchdog, false);
    assert.equal(c.vad.threshold, 0.75);
    assert.equal(c.mqtt.homeAssistant.discovery, true, "a bare flag is true");
    assert.equal(c.input.source, "-");
    assert.equal(c.mqtt.username, "007", "text stays text");
    const off = loadConfig({ env: {}, args: ["--no-service-watchdog"] });
    assert.equal(off.service.watchdog, false);
  });

  it("rejects numbers and booleans that only start right", () => {
    const e = failure({ env: { SER_VAD_PRE_ROLL_MS: "12abc", SER_INPUT_FAST: "flase" } });
    assert.equal(e.problems.length, 2);
    assert.match(e.message, /vad\.preRollMs: "12abc" is not an integer/);
    assert.match(e.message, /SER_VAD_PRE_ROLL_MS/);
    assert.match(e.message, /input\.fast: "flase" is neither true nor false/);
  });

  it("treats an empty file as no settings", () => {
    const c = loadConfig({ file: file(""), env: {}, args: [] });
    assert.equal(c.mqtt.baseTopic, "ser-edge");
  });

  it("warns about SER_ variables that are not settings", () => {
    const warnings: string[] = [];
    loadConfig({
      env: { SER_MQTT_URLL: "mqtt://x", SER_CONFIG: "/x" },
      args: [],
      warn: (m) => warnings.push(m),
    });
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /SER_MQTT_URLL is not a setting.*Did you mean SER_MQTT_URL\?/);
  });
});

describe("loadConfig: errors", () => {
  it("names a misspelt key, suggests the right one, and hides its value", () => {
    const f = file({ mqtt: { pasword: "hunter2", url: "mqtt://broker:1883" } });
    const e = failure({ file: f });
    assert.equal(e.problems.length, 1);
    assert.equal(e.problems[0].key, "mqtt.pasword");
    assert.match(e.message, /mqtt\.pasword/);
    assert.match(e.message, /Did you mean "mqtt\.password"\?/);
    assert.ok(e.message.includes(f), "names the file");
    assert.ok(!e.message.includes("hunter2"), "never shows the value of an unknown key");
  });

  it("suggests keys in the right group and spelt in snake case", () => {
    assert.equal(suggestKey("baseTopic"), "mqtt.baseTopic");
    assert.equal(suggestKey("mqtt.base_topic"), "mqtt.baseTopic");
    assert.equal(suggestKey("mqtt.user"), "mqtt.username");
    assert.equal(suggestKey("vad.hangover"), "vad.hangoverMs");
    assert.equal(suggestKey("nothing.like.it"), undefined);
  });

  it("lists the allowed values of a bad choice", () => {
    const e = failure({ file: file({ input: { source: "mik" } }) });
    assert.equal(e.problems[0].key, "input.source");
    assert.match(e.message, /"mik" is not an allowed value/);
    assert.match(e.message, /one of "mic", "file", "-"/);
    const log = failure({ args: ["--log-format", "text"] });
    assert.match(log.message, /log\.format: "text".*one of "json", "logfmt".*--log-format/);
  });

  it("rejects a bad port", () => {
    for (const [value, shown] of [
      [0, "0"],
      [70000, "70000"],
      [1883.5, "1883.5"],
      ["mqtt", '"mqtt"'],
    ] as const) {
      const e = failure({ file: file({ mqtt: { embeddedPort: value } }) });
      assert.equal(e.problems[0].key, "mqtt.embeddedPort");
      assert.ok(e.message.includes(`${shown} is not a TCP port`), e.message);
      assert.match(e.message, /TCP port from 1 to 65535/);
    }
    const env = failure({ env: { SER_MQTT_EMBEDDED_PORT: "18a3" } });
    assert.match(env.message, /"18a3" is not a TCP port.*SER_MQTT_EMBEDDED_PORT/);
    // A number written as a string is still that number.
    const quoted = loadConfig({ file: file({ mqtt: { embeddedPort: "1884" } }), env: {} });
    assert.equal(quoted.mqtt.embeddedPort, 1884);
  });

  it("checks ranges, topics, URLs, device ids and paths", () => {
    const e = failure({
      file: file({
        device: { id: "kitchen/pi" },
        model: { trustedKeys: join(dir, "no-such-key.pem") },
        vad: { threshold: 1.5 },
        inference: { threads: 0 },
        mqtt: {
          url: "http://broker",
          baseTopic: "ser-edge/#",
          ca: dir,
          homeAssistant: { prefix: "/homeassistant" },
        },
      }),
    });
    const byKey = new Map(e.problems.map((p) => [p.key, p.message]));
    assert.deepEqual([...byKey.keys()].sort(), [
      "device.id",
      "inference.threads",
      "model.trustedKeys",
      "mqtt.baseTopic",
      "mqtt.ca",
      "mqtt.homeAssistant.prefix",
      "mqtt.url",
      "vad.threshold",
    ]);
    assert.match(byKey.get("vad.threshold") ?? "", /1\.5 is more than 1/);
    assert.match(byKey.get("inference.threads") ?? "", /0 is less than 1/);
    assert.match(byKey.get("mqtt.baseTopic") ?? "", /wildcard/);
    assert.match(byKey.get("mqtt.homeAssistant.prefix") ?? "", /empty level/);
    assert.match(byKey.get("mqtt.url") ?? "", /protocol "http:"/);
    assert.match(byKey.get("model.trustedKeys") ?? "", /does not exist/);
    assert.match(byKey.get("mqtt.ca") ?? "", /is not a regular file/);
    assert.match(byKey.get("device.id") ?? "", /letters, digits/);
  });

  it("reports objects in the wrong place instead of crashing", () => {
    const e = failure({ file: file({ mqtt: { url: { host: "x", port: { n: 1 } } }, vad: 3 }) });
    assert.match(e.message, /mqtt\.url: \{.*\} is an object/);
    assert.match(e.message, /vad \(in .*\) is a group of settings.*not a number/);
  });

  it("explains unreadable and malformed files", () => {
    assert.match(failure({ file: join(dir, "missing.json") }).message, /does not exist/);
    assert.match(failure({ file: file("{ mqtt: 1, }") }).message, /is not valid JSON/);
    assert.match(failure({ file: file("[1, 2]") }).message, /must hold a JSON object/);
  });

  it("checks settings that depend on each other", () => {
    const input = failure({ args: ["--input-source", "file"] });
    assert.equal(input.problems[0].key, "input.file");
    assert.match(input.message, /--input-source/);
    const cert = file("-----BEGIN CERTIFICATE-----\n");
    const tls = failure({ env: { SER_MQTT_CERT: cert, SER_MQTT_URL: "mqtts://broker:8883" } });
    assert.equal(tls.problems[0].key, "mqtt.key");
    const windows = failure({ args: ["--vad-max-utterance-ms", "1000"] });
    assert.match(
      windows.message,
      /vad\.windowOverlapMs \(1000.*less than vad\.maxUtteranceMs \(1000\)/,
    );
  });

  it("reports every problem at once, arguments included", () => {
    const e = failure({
      file: file({ log: { level: "loud" } }),
      args: ["--mqtt-urll", "x", "--mqtt-password", "p", "stray"],
    });
    assert.equal(e.problems.length, 4, e.message);
    assert.match(e.message, /unknown argument --mqtt-urll\. Did you mean --mqtt-url\?/);
    assert.match(e.message, /mqtt\.password cannot be given on the command line/);
    assert.match(e.message, /unexpected argument "stray"/);
    assert.match(e.message, /^invalid configuration, 4 problems:/);
  });

  it("never shows a secret's value", () => {
    const e = failure({ file: file({ mqtt: { password: 424242 } }) });
    assert.equal(e.problems[0].key, "mqtt.password");
    assert.match(e.message, /mqtt\.password: \(hidden\) is a number, not text/);
    assert.ok(!e.message.includes("424242"));
  });
});

describe("redacted", () => {
  it("masks set secrets and URL passwords, and leaves the rest", () => {
    const c: AgentConfig = loadConfig({
      env: { SER_MQTT_PASSWORD: "hunter2", SER_MQTT_URL: "mqtt://agent:s3cret@broker:1883" },
      args: [],
    });
    assert.equal(c.mqtt.password, "hunter2", "the loaded configuration keeps it");
    const r = redacted(c);
    assert.equal(r.mqtt.password, "***");
    assert.equal(r.mqtt.url, "mqtt://agent:***@broker:1883");
    assert.ok(!JSON.stringify(r).includes("hunter2"));
    assert.ok(!JSON.stringify(r).includes("s3cret"));
    assert.equal(c.mqtt.password, "hunter2", "the original is not modified");
    assert.equal(redacted(loadConfig({ env: {}, args: [] })).mqtt.password, "");
  });
});

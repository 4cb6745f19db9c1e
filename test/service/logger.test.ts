import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { createLogger, type LoggerOptions, toPlain } from "../../agent/src/log/index.js";

const NOW = new Date("2025-03-01T12:34:56.789Z");

function collect(options: LoggerOptions = {}) {
  const lines: string[] = [];
  const logger = createLogger({
    now: () => NOW,
    stream: { write: (t: string) => lines.push(t) },
    ...options,
  });
  return { logger, lines };
}

describe("logger: JSON lines", () => {
  it("writes one JSON object per line with ts, level, msg and the fields", () => {
    const { logger, lines } = collect();
    logger.info("utterance classified", { label: "happy", confidence: 0.83, window: { index: 1 } });
    assert.equal(lines.length, 1);
    assert.ok(lines[0].endsWith("\n") && !lines[0].slice(0, -1).includes("\n"));
    assert.deepEqual(JSON.parse(lines[0]), {
      ts: "2025-03-01T12:34:56.789Z",
      level: "info",
      msg: "utterance classified",
      label: "happy",
      confidence: 0.83,
      window: { index: 1 },
    });
  });

  it("drops lines below the level and says which levels are enabled", () => {
    const { logger, lines } = collect({ level: "warn" });
    logger.debug("d");
    logger.info("i");
    logger.warn("w");
    logger.error("e");
    assert.deepEqual(
      lines.map((l) => JSON.parse(l).level),
      ["warn", "error"],
    );
    assert.equal(logger.enabled("info"), false);
    assert.equal(logger.enabled("error"), true);
    const all = collect({ level: "debug" });
    all.logger.debug("d");
    assert.equal(all.lines.length, 1);
  });

  it("adds a child's fields to every line, and keeps ts/level/msg its own", () => {
    const { logger, lines } = collect({ fields: { device: "kitchen-pi" } });
    const mqtt = logger.child({ component: "mqtt" });
    mqtt.warn("reconnecting", { attempt: 3, msg: "not the message", level: "nope" });
    const j = JSON.parse(lines[0]);
    assert.equal(j.device, "kitchen-pi");
    assert.equal(j.component, "mqtt");
    assert.equal(j.msg, "reconnecting");
    assert.equal(j.level, "warn");
    assert.equal(j._msg, "not the message");
    assert.equal(j._level, "nope");
  });

  it("never writes audio: buffers, typed arrays and long numeric arrays are summarised", () => {
    const { logger, lines } = collect();
    const samples = new Float32Array(16000).fill(0.25);
    logger.info("chunk", {
      samples,
      pcm: Buffer.alloc(3200, 7),
      int16: new Int16Array(512),
      raw: new ArrayBuffer(64),
      frames: Array.from({ length: 400 }, (_, i) => i / 400),
      nested: { deeper: { audio: samples } },
      scores: { happy: 0.7, sad: 0.3 },
    });
    const text = lines[0];
    assert.ok(text.length < 1000, `line is ${text.length} chars`);
    assert.ok(!text.includes("0.25"), "no sample value leaks");
    const j = JSON.parse(text);
    assert.equal(j.samples, "[Float32Array length=16000 omitted]");
    assert.equal(j.pcm, "[Buffer length=3200 omitted]");
    assert.equal(j.int16, "[Int16Array length=512 omitted]");
    assert.equal(j.raw, "[ArrayBuffer bytes=64 omitted]");
    assert.equal(j.frames, "[array of 400 numbers omitted]");
    assert.equal(j.nested.deeper.audio, "[Float32Array length=16000 omitted]");
    assert.deepEqual(j.scores, { happy: 0.7, sad: 0.3 });
  });

  it("serialises errors, cycles, non-finite numbers and long strings", () => {
    const { logger, lines } = collect();
    const err = Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
    const cyclic: Record<string, unknown> = { name: "loop" };
    cyclic.self = cyclic;
    logger.error("mqtt failed", {
      error: err,
      cyclic,
      nan: Number.NaN,
      big: 10n,
      when: NOW,
      long: "x".repeat(5000),
      missing: undefined,
    });
    const j = JSON.parse(lines[0]);
    assert.equal(j.error.name, "Error");
    assert.equal(j.error.message, "connect ECONNREFUSED");
    assert.equal(j.error.code, "ECONNREFUSED");
    assert.match(j.error.stack, /connect ECONNREFUSED/);
    assert.equal(j.cyclic.self, "[circular]");
    assert.equal(j.nan, "NaN");
    assert.equal(j.big, "10");
    assert.equal(j.when, NOW.toISOString());
    assert.ok(j.long.length < 2100 && j.long.endsWith("more chars)"));
    assert.ok(!("missing" in j));
  });

  it("survives a stream that throws", () => {
    const logger = createLogger({
      stream: {
        write() {
          throw new Error("EPIPE");
        },
      },
    });
    assert.doesNotThrow(() => logger.error("nowhere to go"));
  });

  it("rejects an unknown level or format", () => {
    assert.throws(() => createLogger({ level: "verbose" as never }), /log level must be one of/);
    assert.throws(() => createLogger({ format: "xml" as never }), /log format must be one of/);
  });
});

describe("logger: logfmt", () => {
  it("writes key=value pairs, quoting where needed, nested fields as dotted keys", () => {
    const { logger, lines } = collect({ format: "logfmt" });
    logger.info("utterance classified", {
      label: "happy",
      confidence: 0.83,
      scores: { happy: 0.83, sad: 0.17 },
      note: 'said "hi"\nthen left',
      empty: "",
      "bad key": 1,
      labels: ["a", "b"],
    });
    assert.equal(
      lines[0],
      'ts=2025-03-01T12:34:56.789Z level=info msg="utterance classified" label=happy confidence=0.83 scores.happy=0.83 scores.sad=0.17 note="said \\"hi\\"\\nthen left" empty="" bad_key=1 labels="[\\"a\\",\\"b\\"]"\n',
    );
  });

  it("summarises audio the same way", () => {
    const { logger, lines } = collect({ format: "logfmt" });
    logger.debug("x", { samples: new Float32Array(8) });
    assert.equal(lines.length, 0, "debug is below the default level");
    logger.warn("x", { samples: new Float32Array(8) });
    assert.match(lines[0], /samples="\[Float32Array length=8 omitted\]"/);
  });
});

describe("toPlain", () => {
  it("keeps short arrays and plain values", () => {
    assert.deepEqual(toPlain({ a: [1, 2, 3], b: true, c: null, d: new Set(["x"]) }), {
      a: [1, 2, 3],
      b: true,
      c: null,
      d: ["x"],
    });
  });
});

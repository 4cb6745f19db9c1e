import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  MqttError,
  OUTBOX_FILE,
  OUTBOX_LOCK,
  type OutboundMessage,
  Outbox,
} from "../../agent/src/mqtt/index.js";
import { memoryLogger, tmp } from "./helpers.js";

const msg = (i: number, extra = ""): OutboundMessage => ({
  topic: "ser-edge/pi/emotion",
  payload: JSON.stringify({ i, extra }),
  qos: 1,
  retain: false,
});
const ids = (box: Outbox) => box.messages().map((m) => JSON.parse(m.payload).i as number);
const code = (c: string) => (err: unknown) => err instanceof MqttError && err.code === c;

describe("mqtt outbox", () => {
  it("keeps messages in order and removes them only over the acknowledged prefix", () => {
    const box = Outbox.open({ dir: tmp("outbox"), fsync: false });
    const seqs = [0, 1, 2, 3].map((i) => box.append(msg(i)).seq);
    assert.deepEqual(seqs, [0, 1, 2, 3]);
    // 1 and 2 acknowledged before 0: nothing may leave yet.
    assert.equal(box.settle(1), 0);
    assert.equal(box.settle(2), 0);
    assert.deepEqual(ids(box), [0, 1, 2, 3]);
    assert.equal(box.nextAfter(-1)?.seq, 0);
    assert.equal(box.nextAfter(0)?.seq, 3, "settled ones are not offered again");
    assert.equal(box.settle(0), 3);
    assert.deepEqual(ids(box), [3]);
    assert.equal(box.settle(0), 0, "a second ack is ignored");
    assert.equal(box.settle(3), 1);
    assert.equal(box.depth, 0);
    assert.equal(box.stats().fileBytes, 0, "the file is truncated once everything is delivered");
    assert.equal(statSync(box.path).size, 0);
    assert.equal(box.stats().delivered, 4);
    box.close();
  });

  it("survives a restart: a new instance continues in order", () => {
    const dir = tmp("outbox");
    const a = Outbox.open({ dir });
    for (let i = 0; i < 5; i++) a.append(msg(i));
    a.settle(0);
    a.settle(1);
    a.close();
    const b = Outbox.open({ dir });
    assert.deepEqual(ids(b), [2, 3, 4]);
    assert.equal(b.append(msg(5)).seq, 5, "sequence numbers continue");
    b.settle(2);
    b.close();
    const c = Outbox.open({ dir });
    assert.deepEqual(ids(c), [3, 4, 5]);
    assert.equal(c.messages()[0].topic, "ser-edge/pi/emotion");
    assert.equal(c.messages()[0].qos, 1);
    c.close();
  });

  it("drops the oldest when full (by count and by bytes) and counts the drops", () => {
    const dir = tmp("outbox");
    const logger = memoryLogger();
    const box = Outbox.open({ dir, maxMessages: 3, logger });
    for (let i = 0; i < 7; i++) box.append(msg(i));
    assert.deepEqual(ids(box), [4, 5, 6]);
    assert.equal(box.stats().dropped, 4);
    assert.ok(logger.entries.some((e) => e.level === "warn" && /outbox full/.test(e.msg)));
    box.close();
    const again = Outbox.open({ dir, maxMessages: 3 });
    assert.deepEqual(ids(again), [4, 5, 6], "drops are persistent");
    again.close();

    const byBytes = Outbox.open({ dir: tmp("outbox"), maxBytes: 400 });
    const big = "x".repeat(100);
    for (let i = 0; i < 6; i++) byBytes.append(msg(i, big));
    assert.ok(byBytes.stats().bytes <= 400);
    assert.deepEqual(ids(byBytes), [4, 5]);
    assert.equal(byBytes.stats().dropped, 4);
    assert.throws(() => byBytes.append(msg(9, "y".repeat(500))), code("message-too-large"));
    assert.deepEqual(ids(byBytes), [4, 5], "a refused message drops nothing");
    byBytes.close();
  });

  it("appends a batch with one write; a batch larger than the limits keeps its newest", () => {
    const dir = tmp("outbox");
    const box = Outbox.open({ dir, maxMessages: 3 });
    box.append(msg(0));
    const kept = box.appendAll([msg(1), msg(2), msg(3), msg(4), msg(5)]);
    assert.deepEqual(
      kept.map((m) => JSON.parse(m.payload).i),
      [3, 4, 5],
    );
    assert.deepEqual(ids(box), [3, 4, 5]);
    assert.equal(box.stats().dropped, 3);
    assert.equal(box.nextAfter(-1)?.seq, kept[0].seq);
    box.close();
    const again = Outbox.open({ dir, maxMessages: 3 });
    assert.deepEqual(ids(again), [3, 4, 5]);
    assert.equal(again.append(msg(6)).seq, kept[2].seq + 1);
    assert.deepEqual(ids(again), [4, 5, 6]);
    again.close();
  });

  it("applies smaller limits to what an earlier run left", () => {
    const dir = tmp("outbox");
    const a = Outbox.open({ dir });
    for (let i = 0; i < 10; i++) a.append(msg(i));
    a.close();
    const b = Outbox.open({ dir, maxMessages: 4 });
    assert.deepEqual(ids(b), [6, 7, 8, 9]);
    assert.equal(b.stats().dropped, 6);
    b.close();
  });

  it("skips a torn last line after a crash, and keeps working", () => {
    const dir = tmp("outbox");
    const a = Outbox.open({ dir });
    for (let i = 0; i < 3; i++) a.append(msg(i));
    a.close();
    const path = join(dir, OUTBOX_FILE);
    appendFileSync(path, '{"seq":3,"topic":"ser-edge/pi/emo');
    const logger = memoryLogger();
    const b = Outbox.open({ dir, logger });
    assert.deepEqual(ids(b), [0, 1, 2]);
    assert.equal(b.stats().skipped, 1);
    assert.ok(logger.entries.some((e) => /torn last line/.test(e.msg)));
    b.append(msg(3));
    b.close();
    assert.ok(readFileSync(path, "utf8").endsWith("\n"));
    const c = Outbox.open({ dir });
    assert.deepEqual(ids(c), [0, 1, 2, 3]);
    assert.equal(c.stats().skipped, 0, "the torn bytes are gone from the file");
    c.close();
  });

  it("skips an unreadable line in the middle with a warning", () => {
    const dir = tmp("outbox");
    const path = join(dir, OUTBOX_FILE);
    const line = (seq: number) =>
      `${JSON.stringify({ seq, ...msg(seq), payload: JSON.stringify({ i: seq }) })}\n`;
    writeFileSync(
      path,
      `${line(0)}garbage\u0000\u0000\n{"seq":"x"}\n${line(1)}{"head":1}\n${line(2)}`,
    );
    const logger = memoryLogger();
    const box = Outbox.open({ dir, logger });
    assert.deepEqual(ids(box), [1, 2]);
    assert.equal(box.stats().skipped, 2);
    assert.equal(logger.entries.filter((e) => /unreadable line/.test(e.msg)).length, 2);
    box.close();
  });

  it("compacts: the file does not grow with delivered messages", () => {
    const box = Outbox.open({ dir: tmp("outbox"), compactBytes: 2048, fsync: false });
    // Always one message waiting (never empty, so never simply truncated).
    let waiting = box.append(msg(0, "payload-payload-payload")).seq;
    let max = 0;
    for (let i = 1; i <= 1000; i++) {
      const next = box.append(msg(i, "payload-payload-payload")).seq;
      box.settle(waiting);
      waiting = next;
      max = Math.max(max, statSync(box.path).size);
    }
    // 1000 appended records of ~90 bytes would be ~90 kB.
    assert.ok(max < 8 * 1024, `file grew to ${max} bytes`);
    assert.deepEqual(ids(box), [1000]);
    box.close();
    const again = Outbox.open({ dir: box.dir });
    assert.deepEqual(ids(again), [1000]);
    again.close();
  });

  it("locks its directory against a second user", () => {
    const dir = tmp("outbox");
    const a = Outbox.open({ dir });
    assert.throws(() => Outbox.open({ dir }), code("outbox-locked"));
    a.close();
    // A lock left by a process that is gone is taken over.
    const dead = spawnSync(process.execPath, ["-e", "process.stdout.write(String(process.pid))"], {
      encoding: "utf8",
    }).stdout;
    writeFileSync(join(dir, OUTBOX_LOCK), `${dead}\n`);
    const b = Outbox.open({ dir });
    b.close();
    // A lock held by a live process is respected, with what to do.
    writeFileSync(join(dir, OUTBOX_LOCK), `${process.ppid}\n`);
    assert.throws(() => Outbox.open({ dir }), /is in use by process \d+; stop it/);
  });

  it("refuses use after close and bad limits", () => {
    const box = Outbox.open({ dir: tmp("outbox") });
    box.close();
    assert.throws(() => box.append(msg(0)), code("closed"));
    assert.throws(
      () => Outbox.open({ dir: tmp("outbox"), maxMessages: 0 }),
      code("invalid-option"),
    );
  });
});

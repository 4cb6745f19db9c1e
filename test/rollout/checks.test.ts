// The device's checks of a pushed bundle, its durable store and its probation, without MQTT:
// real exported models, real ONNX Runtime sessions, real files.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import {
  compareVersions,
  type Manifest,
  type ModelRunner,
  readBundle,
} from "../../agent/src/model/index.js";
import {
  checkCandidate,
  decodeEnvelope,
  encodeEnvelope,
  ModelStore,
  parseModelStateReport,
  RolloutManager,
  signRollback,
  verifyRollback,
} from "../../agent/src/rollout/index.js";
import { memoryLogger, tmp } from "../mqtt/helpers.js";
import {
  type Base,
  badPushes,
  baseBundle,
  envelope,
  type Keys,
  makeKeys,
  version,
} from "./fixtures.js";

let root: string;
let base: Base;
let keys: Keys;
let stranger: Keys;

before(async () => {
  root = tmp("rollout-checks");
  base = await baseBundle(join(root, "installed"));
  keys = makeKeys(join(root, "keys"));
  stranger = makeKeys(join(root, "stranger"), "stranger");
});
after(() => rmSync(root, { recursive: true, force: true }));

const ctxFor = (current: Manifest, extra: Partial<Parameters<typeof checkCandidate>[1]> = {}) => ({
  maxBytes: 1_000_000,
  keys: [keys.publicKey],
  current: { version: current.version, sha256: current.model.sha256, createdAt: current.createdAt },
  rolledBack: new Set<string>(),
  ...extra,
});

describe("semantic versions", () => {
  test("order by precedence, pre-releases before their release", () => {
    const ordered = [
      "0.0.1",
      "0.0.2",
      "0.1.0",
      "1.0.0-alpha",
      "1.0.0-alpha.1",
      "1.0.0-beta",
      "1.0.0",
      "1.0.1",
      "1.10.0",
      "2.0.0",
    ];
    for (let i = 1; i < ordered.length; i++) {
      assert.ok(
        compareVersions(ordered[i - 1], ordered[i]) < 0,
        `${ordered[i - 1]} < ${ordered[i]}`,
      );
      assert.ok(compareVersions(ordered[i], ordered[i - 1]) > 0);
    }
    assert.equal(compareVersions("1.2.3+build.7", "1.2.3"), 0);
    assert.throws(() => compareVersions("1.2", "1.2.0"), /not a semantic version/);
  });
});

describe("envelope", () => {
  test("round trip keeps the header and the model bytes", () => {
    const model = new Uint8Array([1, 2, 3, 250]);
    const e = encodeEnvelope({ id: "x", issuedAt: "t", manifest: { a: 1 } }, model);
    const d = decodeEnvelope(e);
    assert.deepEqual(d.header, { id: "x", issuedAt: "t", manifest: { a: 1 } });
    assert.deepEqual([...d.model], [...model]);
  });

  test("what is not an envelope is refused as bundle-format, saying why", () => {
    const e = encodeEnvelope({ id: "x", issuedAt: "t", manifest: {} }, new Uint8Array(10));
    const cases: [Buffer, RegExp][] = [
      [Buffer.from("PK\u0003\u0004 a zip file"), /does not start with "SERB"/],
      [e.subarray(0, 20), /header claims \d+ bytes/],
      [Buffer.concat([e.subarray(0, 9), Buffer.from("{nope")]), /header claims|not JSON/],
    ];
    for (const [payload, why] of cases) {
      assert.throws(
        () => decodeEnvelope(payload),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, "bundle-format");
          assert.match(err.message, why);
          return true;
        },
      );
    }
    const future = Buffer.from(e);
    future[4] = 9;
    assert.throws(() => decodeEnvelope(future), /envelope format 9/);
  });
});

describe("rollback authorisation", () => {
  const target = { version: "0.0.1", sha256: "a".repeat(64) };
  test("verifies for the named model only, once, and only if issued after the running model", () => {
    const auth = signRollback(target, keys.privateKey, new Date("2026-06-01T00:00:00Z"));
    const ctx = { keys: [keys.publicKey], target, currentCreatedAt: "2026-05-01T00:00:00Z" };
    assert.equal(verifyRollback(auth, ctx), Date.parse("2026-06-01T00:00:00Z"));
    const code = /rollback authorisation/;
    assert.throws(
      () => verifyRollback(auth, { ...ctx, keys: [stranger.publicKey] }),
      /not in the trust store/,
    );
    assert.throws(() => verifyRollback({ ...auth, version: "0.0.0" }, ctx), /does not verify/);
    assert.throws(
      () => verifyRollback(auth, { ...ctx, target: { ...target, version: "0.0.2" } }),
      /names model/,
    );
    assert.throws(
      () => verifyRollback(auth, { ...ctx, currentCreatedAt: "2026-07-01T00:00:00Z" }),
      /stale or replayed/,
    );
    assert.throws(
      () => verifyRollback(auth, { ...ctx, lastAccepted: "2026-06-01T00:00:00Z" }),
      /replayed/,
    );
    assert.throws(() => verifyRollback({ type: "other" }, ctx), code);
  });
});

describe("pushed bundle checks", () => {
  test("each bad bundle is refused with its own reason, in the documented order", async () => {
    const running = version(base, "0.0.5", keys.privateKey);
    const bad = badPushes(base, keys, stranger.privateKey, running.version, 1_000_000);
    assert.equal(bad.length, 9);
    for (const b of bad) {
      await assert.rejects(
        checkCandidate(b.payload, ctxFor(running)),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, b.code, `${b.name}: ${err.message}`);
          assert.ok(err.message.length > 30, `${b.name}: the reason says what to do`);
          return true;
        },
      );
    }
  });

  test("a newer signed bundle passes and comes back loaded and self-tested", async () => {
    const running = version(base, "0.0.5", keys.privateKey);
    const next = version(base, "0.0.6", keys.privateKey);
    const c = await checkCandidate(envelope(next, base.model).payload, ctxFor(running));
    assert.equal(c.kind, "new");
    if (c.kind === "new") {
      assert.equal(c.manifest.version, "0.0.6");
      await c.runner.release();
    }
    const same = await checkCandidate(envelope(running, base.model).payload, ctxFor(running));
    assert.equal(same.kind, "current");
  });

  test("an older version passes only with a valid rollback authorisation", async () => {
    const running = version(base, "0.0.5", keys.privateKey);
    const older = version(base, "0.0.3", keys.privateKey);
    await assert.rejects(
      checkCandidate(envelope(older, base.model).payload, ctxFor(running)),
      /not newer/,
    );
    const c = await checkCandidate(
      envelope(older, base.model, { rollbackKey: keys.privateKey }).payload,
      ctxFor(running),
    );
    assert.equal(c.kind, "new");
    if (c.kind === "new") {
      assert.ok(c.rollbackIssuedAt);
      await c.runner.release();
    }
    await assert.rejects(
      checkCandidate(
        envelope(older, base.model, { rollbackKey: stranger.privateKey }).payload,
        ctxFor(running),
      ),
      (err: Error & { code?: string }) => err.code === "rollback-invalid",
    );
    const rolled = ctxFor(running, {
      rolledBack: new Set([base.model.length ? older.model.sha256 : ""]),
    });
    await assert.rejects(
      checkCandidate(envelope(version(base, "0.0.9", keys.privateKey), base.model).payload, rolled),
      (err: Error & { code?: string }) => err.code === "rolled-back-before",
    );
  });
});

describe("model store", () => {
  test("install, activate, keep one previous, roll back, clean up interrupted installs", async () => {
    const dir = join(root, "store1");
    const store = await ModelStore.open(dir, base.dir);
    assert.deepEqual(store.pointer, { current: null, previous: null });
    const names: string[] = [];
    for (const v of ["0.0.2", "0.0.3", "0.0.4"]) {
      const m = version(base, v, keys.privateKey);
      const name = await store.install(m, base.model);
      await store.activate(name);
      names.push(name);
      // A complete, verifiable bundle wherever the pointer points.
      const b = await readBundle(store.pathOf(name), {
        trustedKeys: [keys.publicKey],
        requireSignature: true,
      });
      assert.equal(b.manifest.version, v);
    }
    assert.deepEqual(store.pointer, { current: names[2], previous: names[1] });
    assert.deepEqual(readdirSync(join(dir, "bundles")).sort(), [names[1], names[2]].sort());
    const m4 = version(base, "0.0.4", keys.privateKey);
    const to = await store.rollBack(m4.model.sha256);
    assert.equal(to, names[1]);
    assert.deepEqual(store.pointer, { current: names[1], previous: null });
    assert.ok(store.state.rolledBack.includes(m4.model.sha256));
    // What a kill during install leaves behind is removed at the next open; the pointer stands.
    mkdirSync(join(dir, "bundles", ".tmp-deadbeef"));
    const reopened = await ModelStore.open(dir, base.dir);
    assert.equal(existsSync(join(dir, "bundles", ".tmp-deadbeef")), false);
    assert.deepEqual(reopened.pointer, { current: names[1], previous: null });
    assert.deepEqual(JSON.parse(readFileSync(join(dir, "state.json"), "utf8")).rolledBack, [
      m4.model.sha256,
    ]);
  });
});

/** A device's rollout manager as the agent builds it, with a 60 s probation. */
function managerFor(store: ModelStore, device: string, maxModelErrors: number) {
  return new RolloutManager({
    store,
    keys: [keys.publicKey],
    requireInstalledSignature: false,
    device,
    topics: { set: "set", state: "state" },
    maxBytes: 1_000_000,
    probationMs: 60_000,
    maxModelErrors,
    threads: 1,
    logger: memoryLogger(),
  });
}

describe("probation", () => {
  const host = (manifest: () => Manifest, swaps: ModelRunner[]) => ({
    manifest,
    swap: async (r: ModelRunner) => {
      swaps.push(r);
    },
  });

  test("a start after a run that died during probation goes back and reports rolled_back", async () => {
    const dir = join(root, "store2");
    const store = await ModelStore.open(dir, base.dir);
    const m = version(base, "0.0.7", keys.privateKey);
    const name = await store.install(m, base.model);
    await store.activate(name, {
      version: "0.0.7",
      sha256: m.model.sha256,
      id: "p1",
      until: Date.now() + 60_000,
    });
    // The process is killed here: probation.json still says running.
    const manager = managerFor(await ModelStore.open(dir, base.dir), "d1", 3);
    const loaded: string[] = [];
    await manager.startup(async (d) => {
      loaded.push(d);
      return d;
    });
    assert.deepEqual(loaded, [base.dir], "started on the installed model, not on 0.0.7");
    const published: { topic: string; payload: string }[] = [];
    manager.attach(
      {
        subscribe: () => {},
        publishRetained: (topic, payload) => published.push({ topic, payload }) > 0,
      },
      host(() => base.manifest, []),
    );
    assert.equal(published.length, 1);
    const r = parseModelStateReport(published[0].payload);
    assert.equal(r?.status, "rolled_back");
    assert.equal(r?.version, "0.0.7");
    assert.equal(r?.current, base.manifest.version);
    assert.match(r?.reason ?? "", /stopped unexpectedly/);
    await manager.stop();
  });

  test("repeated model errors during probation swap the previous model back in", async () => {
    const dir = join(root, "store3");
    const store = await ModelStore.open(dir, base.dir);
    const manager = managerFor(store, "d2", 2);
    await manager.startup(async (d) => d);
    let running: Manifest = base.manifest;
    const swaps: ModelRunner[] = [];
    const published: string[] = [];
    let handler: ((t: string, p: Buffer, r: boolean) => void) | undefined;
    manager.attach(
      {
        subscribe: (_t, h) => {
          handler = h;
        },
        publishRetained: (_t, p) => published.push(p) > 0,
      },
      {
        manifest: () => running,
        swap: async (r) => {
          swaps.push(r);
          running = r.manifest;
        },
      },
    );
    const next = version(base, "0.1.0", keys.privateKey);
    handler?.("set", envelope(next, base.model).payload, false);
    await waitFor(() => published.length === 1);
    assert.equal(parseModelStateReport(published[0])?.status, "applied");
    assert.equal(running.version, "0.1.0");
    assert.ok(store.probation);
    manager.noteModelError(new Error("boom 1"));
    manager.noteModelError(new Error("boom 2"));
    await waitFor(() => published.length === 2);
    const r = parseModelStateReport(published[1]);
    assert.equal(r?.status, "rolled_back");
    assert.equal(r?.code, "model-errors");
    assert.equal(running.version, base.manifest.version, "the installed model is back");
    assert.equal(store.pointer.current, null);
    assert.equal(store.probation, undefined);
    // The same push, redelivered (retained), is not installed again.
    handler?.("set", envelope(next, base.model).payload, true);
    await waitFor(() => published.length === 3);
    assert.equal(parseModelStateReport(published[2])?.code, "rolled-back-before");
    await manager.stop();
    for (const s of swaps) await s.release().catch(() => {});
  });
});

async function waitFor(cond: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 20));
  }
}

// Remote rollout with real parts: a real mosquitto, real `ser-agent run` processes (audio on
// stdin), the real `ser-trainer push` and `fleet status` commands, files on disk.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { connectAsync } from "mqtt";
import { readAudioFile } from "../../agent/src/audio/index.js";
import { encodeS16le } from "../../agent/src/capture/pcm.js";
import { type Manifest, readBundle } from "../../agent/src/model/index.js";
import { parseModelStateReport } from "../../agent/src/rollout/index.js";
import { Mosquitto, Recorder, retained, tmp, waitUntil } from "../mqtt/helpers.js";
import { FIXTURE_CLIPS } from "../runtime/bundle.js";
import { AgentProcess } from "./agent-process.js";
import {
  type Base,
  badPushes,
  baseBundle,
  envelope,
  type Keys,
  makeKeys,
  manifestFor,
  runTrainer,
  version,
  writeBundleDir,
} from "./fixtures.js";

const MAX_BYTES = 1_000_000;
let root: string;
let broker: Mosquitto;
let base: Base;
let keys: Keys;
let stranger: Keys;
const agents = new Map<string, AgentProcess>();

function startAgent(id: string, extra: string[] = []): AgentProcess {
  const a = new AgentProcess([
    "--model-dir",
    base.dir,
    "--mqtt-url",
    broker.url,
    "--device-id",
    id,
    "--model-trusted-keys",
    keys.pubFile,
    "--rollout-dir",
    join(root, "state", id),
    "--rollout-max-bytes",
    String(MAX_BYTES),
    "--mqtt-status-interval-sec",
    "1",
    "--mqtt-reconnect-period-ms",
    "200",
    "--log-level",
    "debug",
    ...extra,
  ]);
  agents.set(id, a);
  return a;
}

/** Connected and subscribed to its rollout topic (a push before that would be missed). */
const connected = (a: AgentProcess) =>
  a.waitForLog("mqtt subscribed", (l) => String(l.topic).endsWith("/model/set"));

const push = (args: string[]) => runTrainer(["push", ...args, "--broker", broker.url]);

async function stateOf(device: string) {
  const m = await retained(broker.url, `ser-edge/${device}/model/state`);
  return m ? parseModelStateReport(m.payload) : undefined;
}

/** A signed bundle directory for `ser-trainer push`. */
function bundleDir(name: string, manifest: Manifest, model = base.model): string {
  return writeBundleDir(join(root, "bundles", name), manifest, model);
}

before(async () => {
  root = tmp("rollout-fleet");
  broker = await Mosquitto.start();
  base = await baseBundle(join(root, "installed"));
  keys = makeKeys(join(root, "keys"));
  stranger = makeKeys(join(root, "stranger"), "stranger");
});

after(async () => {
  await Promise.all([...agents.values()].map((a) => a.stop()));
  await broker.dispose();
  rmSync(root, { recursive: true, force: true });
});

describe("rollout over MQTT", { concurrency: false }, () => {
  let firstPushId = "";

  test("three agents on one broker: a good bundle reaches all, each reports applied", async () => {
    const fleet = ["a1", "a2", "a3"].map((id) => startAgent(id, ["--device-fleet", "lab"]));
    await Promise.all(fleet.map(connected));
    const dir = bundleDir("v002", version(base, "0.0.2", keys.privateKey));
    const r = await push([dir, "--fleet", "lab", "--wait-sec", "30"]);
    assert.equal(r.code, 0, r.out + r.err);
    for (const id of ["a1", "a2", "a3"]) {
      assert.match(r.out, new RegExp(`^${id}  applied`, "m"));
      const s = await stateOf(id);
      assert.equal(s?.status, "applied");
      assert.equal(s?.version, "0.0.2");
      assert.equal(s?.current, "0.0.2");
      assert.equal(s?.fleet, "lab");
      firstPushId = s?.id ?? "";
    }
    for (const a of fleet) await a.waitForLog("rollout: model applied", (l) => l.to === "0.0.2");
    const retainedFleet = await retained(broker.url, "ser-edge/fleet/lab/model");
    assert.ok(retainedFleet, "the push stays retained for devices that are offline");

    const status = await runTrainer(["fleet", "status", "--broker", broker.url, "--json"]);
    assert.equal(status.code, 0);
    const listed = await runTrainer(["fleet", "status", "--broker", broker.url, "--fleet", "lab"]);
    assert.equal(listed.code, 0);
    const lines = listed.out.trimEnd().split("\n");
    assert.match(lines[0], /^DEVICE\s+FLEET\s+AVAILABILITY\s+MODEL\s+LAST ROLLOUT\s+STATUS$/);
    assert.equal(lines.length, 4);
    for (const [i, id] of ["a1", "a2", "a3"].entries()) {
      assert.match(
        lines[i + 1],
        new RegExp(`^${id}\\s+lab\\s+online\\s+0\\.0\\.2\\s+applied 0\\.0\\.2 `),
      );
    }
    const rows = JSON.parse(status.out) as {
      device: string;
      availability: string;
      model: string;
      rollout: { status: string };
    }[];
    assert.deepEqual(
      rows.map((x) => [x.device, x.availability, x.model, x.rollout?.status]),
      [
        ["a1", "online", "0.0.2", "applied"],
        ["a2", "online", "0.0.2", "applied"],
        ["a3", "online", "0.0.2", "applied"],
      ],
    );
  });

  test("each bad bundle is rejected with its own reason and the old model keeps serving", async () => {
    const a1 = agents.get("a1") as AgentProcess;
    const rec = await Recorder.connect(broker.url, [
      "ser-edge/a1/model/state",
      "ser-edge/a1/emotion",
    ]);
    try {
      const bad = badPushes(base, keys, stranger.privateKey, "0.0.2", MAX_BYTES);
      for (const b of bad) {
        await rec.client.publishAsync("ser-edge/a1/model/set", b.payload, { qos: 1 });
        await waitUntil(
          () =>
            rec
              .on("ser-edge/a1/model/state")
              .some((m) => parseModelStateReport(m.payload)?.id === b.id),
          `a report on "${b.name}"`,
          20_000,
        );
        const report = rec
          .on("ser-edge/a1/model/state")
          .map((m) => parseModelStateReport(m.payload))
          .find((x) => x?.id === b.id);
        assert.equal(report?.status, "rejected", b.name);
        assert.equal(report?.code, b.code, `${b.name}: ${report?.reason}`);
        assert.equal(report?.current, "0.0.2", b.name);
      }
      // Speech in: the event names the model that was running before all of this.
      const audio = await readAudioFile(FIXTURE_CLIPS[0]);
      a1.feed(Buffer.from(encodeS16le(audio.samples)));
      a1.feed(Buffer.alloc(16000 * 2 * 2));
      const events = await rec.waitFor("ser-edge/a1/emotion", 1, 30_000);
      assert.equal(JSON.parse(events[0].payload).model.version, "0.0.2");
    } finally {
      await rec.close();
    }
  });

  test("a staged rollout stops when the canary rejects; the rest get nothing", async () => {
    const broken = manifestFor(
      base,
      base.model,
      {
        version: "0.0.3",
        reference: base.manifest.reference.map((c) => ({
          ...c,
          expected: c.expected.map((p) => 1 - p),
        })),
      },
      keys.privateKey,
    );
    const r = await push([
      bundleDir("v003", broken),
      "--fleet",
      "lab",
      "--canary",
      "a1",
      "--healthy-sec",
      "1",
      "--wait-sec",
      "20",
    ]);
    assert.equal(r.code, 1, r.out + r.err);
    assert.match(r.err, /rollout stopped: canary a1 rejected/);
    assert.match(r.out, /a1 {2}rejected \[self-test-failed\]/);
    for (const id of ["a2", "a3"]) {
      const s = await stateOf(id);
      assert.equal(s?.version, "0.0.2", `${id} never saw 0.0.3`);
      assert.equal(s?.id, firstPushId);
    }
    const fleetTopic = await retained(broker.url, "ser-edge/fleet/lab/model");
    assert.ok(fleetTopic);
    assert.ok(
      fleetTopic.payload.includes(firstPushId),
      "the fleet topic still holds the first push",
    );
    assert.equal(
      await retained(broker.url, "ser-edge/a1/model/set"),
      undefined,
      "canary push withdrawn",
    );
  });

  test("canaries first, then the fleet; a device offline during the push gets it when it returns", async (t) => {
    const a3 = agents.get("a3") as AgentProcess;
    let t0 = Date.now();
    await a3.stop();
    t.diagnostic(`a3 stopped in ${Date.now() - t0} ms`);
    t0 = Date.now();
    const dir = bundleDir("v004", version(base, "0.0.4", keys.privateKey));
    const r = await push([
      dir,
      "--fleet",
      "lab",
      "--canary-percent",
      "34",
      "--healthy-sec",
      "2",
      "--wait-sec",
      "5",
    ]);
    t.diagnostic(`push took ${Date.now() - t0} ms`);
    t0 = Date.now();
    assert.equal(r.code, 3, `exit 3: some devices pending\n${r.out}${r.err}`);
    assert.match(r.out, /^canaries: a[12]$/m);
    assert.match(r.out, /a3 {2}pending/);
    for (const id of ["a1", "a2"]) assert.equal((await stateOf(id))?.version, "0.0.4");
    assert.equal((await stateOf("a3"))?.version, "0.0.2");

    const back = startAgent("a3", ["--device-fleet", "lab"]);
    await back.waitForLog("rollout: model applied", (l) => l.to === "0.0.4", 30_000);
    t.diagnostic(`a3 back and applied in ${Date.now() - t0} ms`);
    // Its report is retained: read it as a dashboard arriving later would.
    let s = await stateOf("a3");
    for (let i = 0; i < 20 && s?.version !== "0.0.4"; i++) s = await stateOf("a3");
    assert.equal(s?.status, "applied");
    assert.equal(s?.version, "0.0.4");
  });

  test("a swap while speech streams in drops no utterance: old model, then new, no gap", async () => {
    const a2 = agents.get("a2") as AgentProcess;
    const rec = await Recorder.connect(broker.url, ["ser-edge/a2/emotion"]);
    try {
      const silence = Buffer.alloc(16000 * 2); // 1 s
      const clips: Buffer[] = [];
      for (const f of FIXTURE_CLIPS) {
        clips.push(Buffer.from(encodeS16le((await readAudioFile(f)).samples)), silence);
      }
      const stream = Buffer.concat(clips);
      const chunk = 3200; // 100 ms, fed every 50 ms: twice real time, as a microphone would
      const { payload } = envelope(version(base, "0.0.5", keys.privateKey), base.model);
      let pushed = false;
      for (let o = 0; o < stream.length; o += chunk) {
        a2.feed(stream.subarray(o, o + chunk));
        if (!pushed && o >= stream.length / 2) {
          pushed = true;
          void rec.client.publishAsync("ser-edge/a2/model/set", payload, { qos: 1 });
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const events = (await rec.waitFor("ser-edge/a2/emotion", FIXTURE_CLIPS.length, 30_000)).map(
        (m) => JSON.parse(m.payload) as { seq: number; model: { version: string } },
      );
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(
        rec.on("ser-edge/a2/emotion").length,
        FIXTURE_CLIPS.length,
        "one event per clip",
      );
      const seqs = events.map((e) => e.seq);
      assert.deepEqual(
        seqs,
        seqs.map((_, i) => seqs[0] + i),
        "no gap in seq",
      );
      const versions = events.map((e) => e.model.version);
      const firstNew = versions.indexOf("0.0.5");
      assert.ok(firstNew > 0, `old model first, then the new one: ${versions.join(" ")}`);
      assert.ok(
        versions.slice(firstNew).every((v) => v === "0.0.5"),
        versions.join(" "),
      );
      assert.ok(
        versions.slice(0, firstNew).every((v) => v === "0.0.4"),
        versions.join(" "),
      );
    } finally {
      await rec.close();
    }
  });

  test("push --rollback goes back on purpose; the same authorisation replayed later is refused", async () => {
    // a2 runs 0.0.5 (previous test). Back to 0.0.2 with the trainer's --rollback.
    const keyFile = join(root, "keys", "fleet.key");
    writeFileSync(keyFile, keys.privateKey.export({ type: "pkcs8", format: "pem" }));
    const dir = bundleDir("v002-again", version(base, "0.0.2", keys.privateKey));
    const plain = await push([dir, "--device", "a2", "--wait-sec", "20"]);
    assert.equal(plain.code, 1, "without --rollback an older version is refused");
    assert.match(plain.out, /a2 {2}rejected \[not-newer\]/);
    const back = await push([
      dir,
      "--device",
      "a2",
      "--rollback",
      "--key",
      keyFile,
      "--wait-sec",
      "20",
    ]);
    assert.equal(back.code, 0, back.out + back.err);
    assert.match(back.out, /a2 {2}applied: rolled back on purpose from 0\.0\.5/);
    // What the trainer published, as someone holding the broker password could record it.
    const spy = await connectAsync(broker.url, { reconnectPeriod: 0 });
    const recorded = await new Promise<Buffer>((resolve) => {
      spy.on("message", (_t, payload) => resolve(payload));
      void spy.subscribeAsync("ser-edge/a2/model/set", { qos: 1 });
    });
    // The fleet moves on to a new model, then the recorded rollback is replayed.
    const next = await push([
      bundleDir("v006", version(base, "0.0.6", keys.privateKey)),
      "--device",
      "a2",
      "--wait-sec",
      "20",
    ]);
    assert.equal(next.code, 0, next.out + next.err);
    const rec = await Recorder.connect(broker.url, ["ser-edge/a2/model/state"]);
    try {
      await spy.publishAsync("ser-edge/a2/model/set", recorded, { qos: 1 });
      const id = JSON.parse(recorded.subarray(9, 9 + recorded.readUInt32BE(5)).toString("utf8"))
        .id as string;
      await waitUntil(
        () =>
          rec
            .on("ser-edge/a2/model/state")
            .some((m) => parseModelStateReport(m.payload)?.id === id),
        "a report on the replay",
        20_000,
      );
      const r = rec
        .on("ser-edge/a2/model/state")
        .map((m) => parseModelStateReport(m.payload))
        .find((x) => x?.id === id);
      assert.equal(r?.status, "rejected");
      assert.equal(r?.code, "rollback-invalid");
      assert.equal(r?.current, "0.0.6");
    } finally {
      await rec.close();
      await spy.endAsync();
    }
  });

  test("a crash while the new model is on probation brings the previous one back", async () => {
    const p1 = startAgent("p1", ["--rollout-probation-sec", "600"]);
    await connected(p1);
    const { payload, id } = envelope(version(base, "0.1.0", keys.privateKey), base.model);
    const rec = await Recorder.connect(broker.url, ["ser-edge/p1/model/state"]);
    await rec.client.publishAsync("ser-edge/p1/model/set", payload, { qos: 1 });
    await p1.waitForLog("rollout: model applied");
    p1.kill("SIGKILL");
    await p1.exited;
    const again = startAgent("p1", ["--rollout-probation-sec", "600"]);
    const loaded = await again.waitForLog("model loaded and self-tested");
    assert.equal(loaded.version, base.manifest.version);
    await waitUntil(
      () =>
        rec
          .on("ser-edge/p1/model/state")
          .some((m) => parseModelStateReport(m.payload)?.status === "rolled_back"),
      "a rolled_back report",
      20_000,
    );
    const report = rec
      .on("ser-edge/p1/model/state")
      .map((m) => parseModelStateReport(m.payload))
      .find((x) => x?.status === "rolled_back");
    assert.equal(report?.id, id);
    assert.equal(report?.version, "0.1.0");
    assert.equal(report?.code, "crashed");
    await rec.close();
    await again.stop();
  });

  test("SIGKILL at random moments of a swap: every restart runs a complete, verified bundle", async (t) => {
    const TRIALS = 20;
    const dir = join(root, "state", "k1");
    let seed = 20261127;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    const args = ["--rollout-probation-sec", "0"];
    let agent = startAgent("k1", args);
    let running = (await agent.waitForLog("model loaded and self-tested")).version as string;
    await connected(agent);
    // How long a swap takes here: the window the kills are spread over.
    const warm = envelope(version(base, "1.0.0", keys.privateKey), base.model);
    const pub = await Recorder.connect(broker.url, ["ser-edge/k1/model/state"]);
    await pub.client.publishAsync("ser-edge/k1/model/set", warm.payload, { qos: 1 });
    const t0 = Date.now();
    await agent.waitForLog("rollout: model applied", (l) => l.to === "1.0.0");
    const window = Math.max(50, (Date.now() - t0) * 1.3);
    running = "1.0.0";
    const outcomes = { old: 0, new: 0 };
    for (let i = 1; i <= TRIALS; i++) {
      const v = `1.0.${i}`;
      // Kills spread from the publication to past the swap: before the bundle arrives, while
      // it is checked, written, renamed, pointed at, and after.
      await pub.client.publishAsync(
        "ser-edge/k1/model/set",
        envelope(version(base, v, keys.privateKey), base.model).payload,
        { qos: 1 },
      );
      await new Promise((r) => setTimeout(r, random() * window));
      agent.kill("SIGKILL");
      await agent.exited;
      agent = startAgent("k1", args);
      const loaded = (await agent.waitForLog("model loaded and self-tested")).version as string;
      assert.ok(
        loaded === running || loaded === v,
        `trial ${i}: came up on ${loaded}, expected ${running} or ${v}`,
      );
      // Independently of the agent: the bundle the pointer names is complete and verifies.
      const active = JSON.parse(readFileSync(join(dir, "active.json"), "utf8")) as {
        current: string | null;
      };
      assert.ok(active.current, `trial ${i}: a rolled-out bundle is current`);
      const b = await readBundle(join(dir, "bundles", active.current), {
        trustedKeys: [keys.publicKey],
        requireSignature: true,
      });
      assert.equal(b.manifest.version, loaded, `trial ${i}`);
      assert.deepEqual(
        readdirSync(join(dir, "bundles")).filter((n) => n.startsWith(".tmp-")),
        [],
        `trial ${i}: no partial bundle left`,
      );
      outcomes[loaded === v ? "new" : "old"] += 1;
      running = loaded;
      await connected(agent);
    }
    t.diagnostic(
      `${TRIALS} kills over a ${Math.round(window)} ms window: restarted on the old bundle ${outcomes.old} times, on the new ${outcomes.new}`,
    );
    assert.ok(existsSync(join(dir, "active.json")));
    await pub.close();
  });
});

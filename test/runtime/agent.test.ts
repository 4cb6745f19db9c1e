// The agent with real parts: RAVDESS clips played by a (fast) file source, the energy gate and
// Silero VAD, a real model bundle on ONNX Runtime, a real mosquitto and an MQTT.js subscriber;
// a real arecord (ALSA file plugin) as the microphone, killed mid-stream.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { readAudioFile } from "../../agent/src/audio/index.js";
import { encodeS16le, MicrophoneSource } from "../../agent/src/capture/index.js";
import { type AgentConfig, loadConfig } from "../../agent/src/config/index.js";
import type { Classification } from "../../agent/src/pipeline/index.js";
import {
  Agent,
  type EmotionEvent,
  loadClassifier,
  PlaylistSource,
  type Publisher,
  type UtteranceClassifier,
} from "../../agent/src/runtime/index.js";
import type { Notifier } from "../../agent/src/service/index.js";
import {
  Mosquitto,
  memoryLogger,
  type Received,
  Recorder,
  retained,
  tmp,
  waitUntil,
} from "../mqtt/helpers.js";
import { buildTestBundle, DEMO_CLIPS, FIXTURE_CLIPS, LABELS, type TestBundle } from "./bundle.js";

let bundle: TestBundle;
let broker: Mosquitto;

before(async () => {
  bundle = await buildTestBundle(join(tmp("runtime-bundle"), "global"));
  broker = await Mosquitto.start();
});
after(async () => {
  await broker?.dispose();
});

function config(id: string, args: string[] = []): AgentConfig {
  return loadConfig({
    env: {},
    hostname: "test",
    args: ["--model-dir", bundle.dir, "--device-id", id, ...args],
  });
}

function recordingNotifier(): Notifier & { log: string[] } {
  const log: string[] = [];
  return {
    log,
    ready: () => log.push("READY=1"),
    status: (t) => log.push(`STATUS=${t}`),
    watchdog: () => log.push("WATCHDOG=1"),
    stopping: () => log.push("STOPPING=1"),
    flush: async () => {},
  };
}

const parse = (m: Received) => JSON.parse(m.payload) as EmotionEvent;

describe("agent: files → VAD → model → mosquitto", () => {
  it("publishes one event per utterance with every field right, state, availability and discovery", async () => {
    const id = "rt-files";
    const clips = [...FIXTURE_CLIPS, ...DEMO_CLIPS];
    const rec = await Recorder.connect(broker.url, [`ser-edge/${id}/#`, "homeassistant/#"]);
    const logger = memoryLogger(id);
    const notifier = recordingNotifier();
    const c = config(id, [
      "--mqtt-url",
      broker.url,
      "--mqtt-home-assistant-discovery",
      "true",
      "--mqtt-status-interval-sec",
      "1",
      "--input-fast",
      "true",
    ]);
    const source = new PlaylistSource(clips, { fast: true, logger });
    const agent = new Agent({ config: c, source, logger, notifier, watchdogMs: 50 });
    const t0 = Date.now();
    await agent.start();
    assert.equal(await agent.ended, "eof");
    assert.equal(await agent.settle(10_000), true);
    const emotion = await rec.waitFor(`ser-edge/${id}/emotion`, clips.length);
    const events = emotion.map(parse);
    const t1 = Date.now();

    // One event per clip, in order, numbered from 1.
    assert.equal(events.length, clips.length, JSON.stringify(events.map((e) => e.duration_ms)));
    assert.deepEqual(
      events.map((e) => e.seq),
      clips.map((_, i) => i + 1),
    );
    const { manifest } = bundle;
    let previousEnd = 0;
    for (const [i, e] of events.entries()) {
      assert.equal(e.device, id);
      assert.deepEqual(e.model, { name: manifest.name, version: manifest.version });
      assert.deepEqual(Object.keys(e.scores), manifest.labels, "every label, manifest order");
      const sum = Object.values(e.scores).reduce((a, b) => a + b, 0);
      assert.ok(Math.abs(sum - 1) < 1e-3, `scores sum to ${sum}`);
      const best = Math.max(...Object.values(e.scores));
      assert.equal(e.confidence, best);
      if (e.confidence >= c.inference.confidenceThreshold) {
        assert.equal(e.scores[e.label], best, `event ${i}: label is the best score`);
      } else {
        assert.equal(e.label, "unknown");
      }
      assert.equal(e.window, undefined);
      // Times: ordered, within this run, duration consistent and plausible for the clip.
      const start = Date.parse(e.start);
      const end = Date.parse(e.end);
      assert.ok(start > previousEnd, `event ${i} starts after the previous one ended`);
      assert.ok(start >= t0 && start < end, `event ${i}: ${e.start} .. ${e.end}`);
      previousEnd = end;
      assert.ok(Math.abs(end - start - e.duration_ms) <= 2, `event ${i} duration vs times`);
      const entry = source.entries[i];
      const clipMs = ((entry.endSample - entry.startSample) / 16000) * 1000;
      assert.ok(
        e.duration_ms >= 1000 && e.duration_ms <= clipMs + 400,
        `event ${i}: ${e.duration_ms} ms for a ${clipMs.toFixed(0)} ms clip`,
      );
      assert.equal(source.fileFor(start, end), clips[i], `event ${i} lies in its clip`);
    }
    assert.ok(t1 - t0 < 20_000);

    // Retained last state = the last event; availability online; discovery; status.
    const state = await retained(broker.url, `ser-edge/${id}/state`);
    assert.ok(state?.retain);
    assert.deepEqual(JSON.parse(state.payload), events.at(-1));
    assert.equal((await retained(broker.url, `ser-edge/${id}/availability`))?.payload, "online");
    const discovery = await retained(broker.url, `homeassistant/device/${id}/config`);
    assert.ok(discovery, "Home Assistant discovery config is retained");
    const cfg = JSON.parse(discovery.payload);
    assert.deepEqual(cfg.cmps.emotion.event_types, [...LABELS, "unknown"]);
    assert.equal(cfg.cmps.emotion.state_topic, `ser-edge/${id}/emotion`);
    const status = await rec.waitFor(`ser-edge/${id}/status`, 1);
    const s = JSON.parse(status[0].payload);
    assert.deepEqual(Object.keys(s).sort(), [
      "cpu_percent",
      "device",
      "dropped",
      "model_version",
      "queue_depth",
      "reconnects",
      "rss_mb",
      "uptime_s",
      "utterances",
    ]);
    assert.equal(s.model_version, "0.0.1");
    assert.ok(s.rss_mb > 10);
    const now = agent.status();
    assert.equal(now.utterances, clips.length);
    assert.equal(now.dropped, 0);
    assert.equal(now.queue_depth, 0);

    await agent.stop();
    await rec.waitFor(`ser-edge/${id}/availability`, 2);
    assert.deepEqual(
      rec.on(`ser-edge/${id}/availability`).map((m) => m.payload),
      ["online", "offline"],
    );
    assert.equal((await retained(broker.url, `ser-edge/${id}/availability`))?.payload, "offline");
    await rec.close();

    // Lifecycle as systemd sees it.
    const n = notifier.log;
    const ready = n.indexOf("READY=1");
    const stopping = n.indexOf("STOPPING=1");
    assert.ok(ready > 0 && stopping > ready, n.join(" | "));
    assert.match(n[0], /^STATUS=loading model/);
    const listening = `STATUS=listening; ${clips.length} files; MQTT connected to ${broker.url}`;
    assert.ok(n.includes(listening), n.join(" | "));
    assert.ok(n.some((l) => /^STATUS=input ended: eof/.test(l)));
    assert.ok(!n.slice(stopping).includes("WATCHDOG=1"), "no watchdog ping once stopping");
    assert.ok(n.slice(ready, stopping).includes("WATCHDOG=1"), "pinged while running");
  });
});

describe("agent: inference queue, windows, speaker models", () => {
  /** Collects events in place of MQTT. */
  function fakePublisher(): Publisher & { events: EmotionEvent[] } {
    const events: EmotionEvent[] = [];
    return {
      events,
      connected: true,
      start() {},
      publishEmotion: (e) => events.push(e) > 0,
      stats: () => ({ reconnects: 0, depth: 0 }),
      flush: async () => true,
      close: async () => {},
    };
  }

  it("drops the oldest utterance when a slow model falls behind live audio, and reports it", async () => {
    const real = await loadClassifier(bundle.dir);
    const slow: UtteranceClassifier = {
      model: real.model,
      async classify(samples): Promise<Classification> {
        await sleep(400);
        return real.classify(samples);
      },
      release: () => real.release(),
    };
    const publisher = fakePublisher();
    const logger = memoryLogger("drops");
    const agent = new Agent({
      config: config("rt-drops", ["--inference-queue-length", "1"]),
      source: new PlaylistSource(FIXTURE_CLIPS, { fast: true, gapMs: 800 }),
      logger,
      loadClassifier: async () => slow,
      createPublisher: () => publisher,
      // As with a microphone: the audio does not wait for the model.
      waitForInference: false,
    });
    await agent.start();
    await agent.ended;
    await agent.settle(5000);
    // 4 utterances within ~0.2 s: the 1st runs, the 2nd waits, the 3rd and 4th push out the
    // waiting one each time.
    assert.equal(agent.status().dropped, 2);
    assert.equal(publisher.events.length, 2);
    const starts = publisher.events.map((e) => Date.parse(e.start));
    assert.ok(starts[1] > starts[0]);
    const drops = logger.entries.filter((e) => /dropped the oldest/.test(e.msg));
    assert.equal(drops.length, 2);
    assert.equal(drops[1].fields?.dropped, 2);
    await agent.stop();
  });

  it("classifies long speech in overlapping windows with their index", async () => {
    const publisher = fakePublisher();
    const agent = new Agent({
      config: config("rt-windows", [
        "--vad-max-utterance-ms",
        "1500",
        "--vad-window-overlap-ms",
        "500",
      ]),
      source: new PlaylistSource([DEMO_CLIPS[4]], { fast: true }),
      logger: memoryLogger("windows"),
      createPublisher: () => publisher,
    });
    await agent.start();
    await agent.ended;
    await agent.settle(5000);
    await agent.stop();
    const windows = publisher.events.map((e) => e.window);
    assert.ok(windows.length >= 2, JSON.stringify(windows));
    windows.forEach((w, i) => {
      assert.equal(w?.index, i);
      assert.equal(w?.of, i === windows.length - 1 ? windows.length : undefined);
    });
    // Windows of 1.5 s, each starting 1 s after the previous one.
    const e = publisher.events;
    assert.equal(e[0].duration_ms, 1500);
    assert.equal(Date.parse(e[1].start) - Date.parse(e[0].start), 1000);
  });

  it("uses a speaker-normalised model with the manifest's statistics, saying so once", async () => {
    const speaker = await buildTestBundle(join(tmp("runtime-bundle"), "speaker"), "speaker");
    const logger = memoryLogger("speaker");
    const classifier = await loadClassifier(speaker.dir, { logger });
    const clip = (await readAudioFile(FIXTURE_CLIPS[0])).samples;
    const a = await classifier.classify(clip);
    const b = await classifier.classify(clip);
    assert.deepEqual(a, b);
    assert.deepEqual(Object.keys(a.scores), LABELS);
    const warnings = logger.entries.filter((e) => e.level === "warn");
    assert.equal(warnings.length, 1);
    assert.match(warnings[0].msg, /per-speaker normalisation.*not implemented/);
    await classifier.release();
  });
});

let hasArecord = true;
try {
  execFileSync("arecord", ["--version"], { stdio: "ignore" });
} catch {
  hasArecord = false;
}

describe("agent: microphone (real arecord, ALSA file plugin)", { skip: !hasArecord }, () => {
  it("logs a killed recorder, restarts it and keeps publishing", async () => {
    // The `file` plugin with a `null` slave delivers the recording as fast as arecord reads it,
    // then repeats its last period: the recording ends in silence, so the "room" goes quiet.
    const home = tmp("runtime-mic");
    const clip = (await readAudioFile(FIXTURE_CLIPS[0])).samples;
    const recording = new Float32Array(clip.length + 16000 * 2);
    recording.set(clip, 8000);
    writeFileSync(join(home, "room.raw"), encodeS16le(recording));
    writeFileSync(
      join(home, ".asoundrc"),
      `pcm.serroom {\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n  infile "${join(home, "room.raw")}"\n  format "raw"\n}\n`,
    );
    const id = "rt-mic";
    const rec = await Recorder.connect(broker.url, [`ser-edge/${id}/emotion`]);
    const logger = memoryLogger(id);
    const notifier = recordingNotifier();
    const mic = new MicrophoneSource({
      device: "serroom",
      env: { ...process.env, HOME: home },
      backoff: { initialMs: 100 },
      stallTimeoutMs: 0,
      logger,
    });
    const agent = new Agent({
      config: config(id, ["--mqtt-url", broker.url]),
      source: mic,
      sourceName: "microphone serroom",
      logger,
      notifier,
    });
    await agent.start();
    await rec.waitFor(`ser-edge/${id}/emotion`, 1);
    const pid = mic.pid;
    assert.ok(pid);
    process.kill(pid, "SIGKILL");
    // The restarted recorder plays the recording again: a second utterance, a second event.
    await rec.waitFor(`ser-edge/${id}/emotion`, 2, 15_000);
    await waitUntil(() => agent.status().utterances >= 2, "the second event");
    assert.equal(mic.restarts, 1);
    await agent.stop();
    await rec.close();

    const events = rec.on(`ser-edge/${id}/emotion`).map(parse);
    assert.deepEqual(
      events.map((e) => e.seq),
      events.map((_, i) => i + 1),
    );
    const logged = (re: RegExp) => logger.entries.find((e) => re.test(e.msg));
    const lost = logged(/microphone serroom: arecord was killed by SIGKILL/);
    assert.equal(lost?.level, "warn");
    assert.equal(logged(/microphone restart scheduled/)?.fields?.attempt, 1);
    assert.ok(logged(/audio input recovered/));
    const statuses = notifier.log.filter((l) => l.startsWith("STATUS="));
    const retrying = statuses.findIndex((l) => /audio lost, retrying: microphone serroom/.test(l));
    assert.ok(retrying > 0, statuses.join(" | "));
    assert.ok(
      statuses.slice(retrying + 1).some((l) => /^STATUS=listening; microphone serroom/.test(l)),
    );
  });
});

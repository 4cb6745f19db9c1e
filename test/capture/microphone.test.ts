// MicrophoneSource against a real arecord. There is no sound card here, so the ALSA device is
// the `file` plugin reading a prepared recording (`infile`) with a `null` slave: arecord goes
// through ALSA exactly as with a microphone, but the "microphone" says what we recorded. The
// child gets its own HOME with an .asoundrc defining that device.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { readAudioFile } from "../../agent/src/audio/index.js";
import {
  type AudioChunk,
  type CaptureError,
  encodeS16le,
  MicrophoneSource,
  type RecoveredInfo,
  type RetryInfo,
} from "../../agent/src/capture/index.js";

const CLIP = fileURLToPath(new URL("../fixtures/audio/03-01-01-01-01-01-01.flac", import.meta.url));

let hasArecord = true;
try {
  execFileSync("arecord", ["--version"], { stdio: "ignore" });
} catch {
  hasArecord = false;
}

let dir = "";
let recording: Float32Array = new Float32Array(0);
let env: NodeJS.ProcessEnv = {};

/** Writes an .asoundrc with `pcm.<name>` reading `infile` (raw S16_LE) into the temp HOME. */
async function alsaConfig(devices: Record<string, string>): Promise<void> {
  const text = Object.entries(devices)
    .map(
      ([name, infile]) =>
        `pcm.${name} {\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n` +
        `  infile "${infile}"\n  format "raw"\n}\n`,
    )
    .join("");
  await writeFile(join(dir, ".asoundrc"), text);
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), "ser-mic-"));
  // The FLAC clip is 16-bit: its samples are exact multiples of 1/32768, so they survive the
  // S16_LE round trip through arecord bit for bit.
  recording = (await readAudioFile(CLIP)).samples;
  await writeFile(join(dir, "clip.raw"), encodeS16le(recording));
  execFileSync("mkfifo", [join(dir, "silent.fifo")]);
  await alsaConfig({ sertest: join(dir, "clip.raw"), serstall: join(dir, "silent.fifo") });
  env = { ...process.env, HOME: dir, XDG_CONFIG_HOME: join(dir, ".config") };
});
after(() => rm(dir, { recursive: true, force: true }));

/** Resolves when `check` returns true (checked on every event pushed), or fails after `ms`. */
function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const poll = () => {
      if (check()) resolve();
      else if (Date.now() - t0 > ms) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

function concat(chunks: AudioChunk[]): Float32Array {
  const out = new Float32Array(chunks.reduce((n, c) => n + c.samples.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c.samples, at);
    at += c.samples.length;
  }
  return out;
}

function assertSameAudio(got: Float32Array, want: Float32Array, what: string): void {
  assert.ok(got.length >= want.length, `${what}: ${got.length} < ${want.length} samples`);
  for (let i = 0; i < want.length; i++) {
    if (got[i] !== want[i]) assert.fail(`${what}: sample ${i} is ${got[i]}, expected ${want[i]}`);
  }
}

describe("MicrophoneSource (real arecord, ALSA file plugin)", { skip: !hasArecord }, () => {
  it("delivers the recording bit-exactly, survives arecord being killed, and resumes", async () => {
    const mic = new MicrophoneSource({
      device: "sertest",
      env,
      backoff: { initialMs: 100, factor: 2, maxMs: 1000 },
      stallTimeoutMs: 0,
    });
    const chunks: AudioChunk[] = [];
    const errors: CaptureError[] = [];
    const retries: RetryInfo[] = [];
    const recovered: RecoveredInfo[] = [];
    const ends: string[] = [];
    const half = recording.length >> 1;
    let killedPid: number | undefined;
    let killedAt = -1;
    mic.on("data", (c) => {
      chunks.push(c);
      // Kill arecord from outside (like an unplugged device) halfway through the recording.
      if (killedPid === undefined && mic.samplesDelivered >= half) {
        killedPid = mic.pid;
        killedAt = mic.samplesDelivered;
        assert.ok(killedPid);
        process.kill(killedPid, "SIGKILL");
      }
    });
    mic.on("error", (e) => errors.push(e));
    mic.on("retry", (r) => retries.push(r));
    mic.on("recovered", (r) => recovered.push(r));
    mic.on("end", (r) => ends.push(r));
    const t0 = Date.now();
    await mic.start();
    assert.equal(mic.state, "running");

    await until("the restart's audio", () => {
      const i = chunks.findIndex((c) => c.discontinuity);
      return i > 0 && mic.samplesDelivered - chunks[i].startSample >= recording.length;
    });
    await mic.stop();
    assert.deepEqual(ends, ["stopped"]);
    assert.equal(mic.state, "ended");

    // The chunks are contiguous in the running sample count.
    let next = 0;
    for (const c of chunks) {
      assert.equal(c.startSample, next);
      next += c.samples.length;
    }
    const restart = chunks.findIndex((c) => c.discontinuity);
    assert.equal(chunks.filter((c) => c.discontinuity).length, 1);
    // Up to the kill, the first run delivered the recording's first half exactly.
    const firstRun = concat(chunks.slice(0, restart));
    assert.ok(firstRun.length >= killedAt);
    assertSameAudio(firstRun, recording.subarray(0, half), "first run");
    // The kill was reported as the device vanishing, and retried after the first backoff.
    assert.equal(errors.length, 1);
    assert.equal(errors[0].code, "DEVICE_LOST");
    assert.equal(errors[0].details.signal, "SIGKILL");
    assert.match(errors[0].message, /microphone sertest: arecord was killed by SIGKILL/);
    assert.deepEqual(
      retries.map((r) => [r.attempt, r.delayMs]),
      [[1, 100]],
    );
    assert.equal(recovered.length, 1);
    assert.ok(recovered[0].downtimeMs >= 100, `downtime ${recovered[0].downtimeMs}`);
    // The new arecord opened the "device" again: the recording again, from its start.
    assertSameAudio(concat(chunks.slice(restart)), recording, "second run");
    // Within a run, timeMs advances by media time (this "device" is not paced, so the wall
    // clock itself says little here).
    const [a, b] = [chunks[restart], chunks[restart + 1]];
    assert.ok(Math.abs(b.timeMs - a.timeMs - (a.samples.length * 1000) / 16000) < 1e-6);
    assert.ok(a.timeMs >= t0 - 10_000);
    assert.equal(mic.restarts, 1);
  });

  it("as an async iterable, drops the oldest chunks when the consumer falls behind", async () => {
    // arecord with the null slave delivers far faster than real time: a slow loop overflows.
    const mic = new MicrophoneSource({ device: "sertest", env, maxQueuedChunks: 4 });
    const seen: AudioChunk[] = [];
    for await (const chunk of mic) {
      seen.push(chunk);
      await new Promise((r) => setTimeout(r, 20));
      if (seen.length === 10) break;
    }
    assert.equal(mic.state, "ended"); // leaving the loop stopped it
    assert.ok(mic.samplesDropped > 0);
    const gap = seen.findIndex((c) => c.discontinuity);
    assert.ok(gap > 0, "a chunk after dropped ones is flagged");
    // What was delivered before the first gap is the recording, exactly.
    const head = concat(seen.slice(0, gap));
    assertSameAudio(recording.subarray(0, head.length), head, "before the gap");
  });

  it("reports a missing device and backs off exponentially (capped) until it gives up", async () => {
    const mic = new MicrophoneSource({
      device: "nosuchdevice",
      env,
      backoff: { initialMs: 40, factor: 2, maxMs: 120 },
      maxRestarts: 4,
    });
    const errors: CaptureError[] = [];
    const retries: RetryInfo[] = [];
    const times: number[] = [];
    let ended = "";
    mic.on("error", (e) => {
      errors.push(e);
      times.push(performance.now());
    });
    mic.on("retry", (r) => retries.push(r));
    mic.on("end", (r) => {
      ended = r;
    });
    await mic.start(); // never rejects
    await until("giving up", () => ended !== "");
    assert.equal(ended, "gave-up");
    assert.equal(errors.length, 5);
    for (const e of errors) {
      assert.equal(e.code, "DEVICE_LOST");
      assert.equal(e.details.exitCode, 1);
      assert.match(String(e.details.stderr), /nosuchdevice/);
      assert.match(e.message, /exited with code 1 \(.*audio open error/);
    }
    assert.deepEqual(
      retries.map((r) => r.delayMs),
      [40, 80, 120, 120],
    );
    for (let i = 1; i < times.length; i++) {
      assert.ok(times[i] - times[i - 1] >= retries[i - 1].delayMs - 2, `gap ${i}`);
    }
    await mic.stop(); // no-op after the end
    assert.equal(mic.state, "ended");
  });

  it("kills and restarts a recorder that stalls (no audio)", async () => {
    // arecord opens the FIFO and waits for a writer that never comes: no audio at all.
    const mic = new MicrophoneSource({
      device: "serstall",
      env,
      stallTimeoutMs: 300,
      backoff: { initialMs: 50 },
    });
    const errors: CaptureError[] = [];
    mic.on("error", (e) => errors.push(e));
    await mic.start();
    await until("two stalls", () => errors.length >= 2);
    await mic.stop();
    assert.equal(errors[0].code, "DEVICE_STALLED");
    assert.equal(errors[0].details.signal, "SIGKILL");
    assert.equal(mic.samplesDelivered, 0);
  });

  it("reports a recorder that cannot be started, without an error listener", async () => {
    const warnings: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn: (msg: string) => warnings.push(msg),
      error() {},
    };
    const mic = new MicrophoneSource({
      command: "/nonexistent/arecord",
      logger,
      backoff: { initialMs: 20 },
    });
    const retries: RetryInfo[] = [];
    mic.on("retry", (r) => retries.push(r));
    await mic.start();
    await until("a retry", () => retries.length >= 2);
    await mic.stop();
    assert.equal(retries[0].error.code, "SPAWN_FAILED");
    assert.match(warnings[0], /not found; install alsa-utils/);
  });
});

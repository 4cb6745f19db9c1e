// deploy/ser-agent.service: systemd's own tools judge it (`systemd-analyze security --offline`
// for the exposure score, `systemd-analyze verify` for everything else), its directives are the
// ones the agent needs, and the agent's real system calls and socket families (traced with
// strace while it runs the demo pipeline, and arecord reading through ALSA) pass its filters.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { SERVICE_MEMORY_ENV } from "../../agent/src/bench/service-env.js";
import { CONFIG_FILE_ENV, EX_CONFIG } from "../../agent/src/config/index.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const UNIT = join(REPO, "deploy/ser-agent.service");
const AGENT = join(REPO, "agent/bin/ser-agent.js");
const CLIP = join(REPO, "demo/03-01-05-02-02-01-19.flac");
const MAX_EXPOSURE = 2.0;

const tmp = mkdtempSync(join(tmpdir(), "ser-unit-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function has(command: string): boolean {
  return spawnSync(command, ["--version"], { stdio: "ignore" }).status === 0;
}
const NO_ANALYZE = has("systemd-analyze")
  ? false
  : "systemd-analyze missing (apt-get install systemd)";

/** `Key=value` lines per section, in order; a key may repeat (Environment=, SystemCallFilter=). */
function parseUnit(text: string): Map<string, Array<[string, string]>> {
  const sections = new Map<string, Array<[string, string]>>();
  let current: Array<[string, string]> = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) continue;
    const section = /^\[(.+)\]$/.exec(line);
    if (section) {
      current = [];
      sections.set(section[1], current);
      continue;
    }
    const eq = line.indexOf("=");
    assert.ok(eq > 0, `not a Key=value line: ${line}`);
    current.push([line.slice(0, eq), line.slice(eq + 1)]);
  }
  return sections;
}

/** The overall exposure that `systemd-analyze security --offline=true` gives a unit file. */
function exposure(path: string): { score: number; report: string } {
  const run = spawnSync("systemd-analyze", ["security", "--offline=true", "--no-pager", path], {
    encoding: "utf8",
  });
  const report = `${run.stdout}${run.stderr}`;
  const m = /Overall exposure level for [^:]+: (\d+(?:\.\d+)?)/.exec(report);
  assert.ok(m, `no overall exposure in systemd-analyze's output (exit ${run.status}):\n${report}`);
  return { score: Number(m[1]), report };
}

describe("deploy/ser-agent.service", () => {
  const text = readFileSync(UNIT, "utf8");
  const unit = parseUnit(text);
  const service = unit.get("Service") ?? [];
  const all = (key: string) => service.filter(([k]) => k === key).map(([, v]) => v);
  /** The unit's Environment= but SER_CONFIG (no /etc/ser-agent here): what the agent runs with. */
  const unitEnv = () =>
    Object.fromEntries(
      all("Environment")
        .map((e) => [e.slice(0, e.indexOf("=")), e.slice(e.indexOf("=") + 1)])
        .filter(([k]) => k !== CONFIG_FILE_ENV),
    );
  const one = (key: string) => {
    const values = all(key);
    assert.equal(
      values.length,
      1,
      `${key}= should appear once in [Service], found ${values.length}`,
    );
    return values[0];
  };

  it(`has an overall exposure of at most ${MAX_EXPOSURE} (systemd-analyze security --offline)`, {
    skip: NO_ANALYZE,
  }, () => {
    const { score, report } = exposure(UNIT);
    assert.ok(score <= MAX_EXPOSURE, `exposure ${score} > ${MAX_EXPOSURE}:\n${report}`);
    // The same measure rates an unhardened service as exposed: the parse above reads a real score.
    const bare = join(tmp, "bare.service");
    writeFileSync(bare, "[Service]\nExecStart=/bin/true\n");
    assert.ok(exposure(bare).score >= 9, "an unhardened unit should score 9 or more");
  });

  it("passes systemd-analyze verify with no message", { skip: NO_ANALYZE }, () => {
    // verify checks that ExecStart='s program exists; on a build machine Node.js may live
    // elsewhere than /usr/bin/node (install.sh writes the real path), so verify a copy naming
    // the Node.js running this test, and otherwise identical.
    const copy = join(tmp, "ser-agent.service");
    writeFileSync(copy, text.replace(/^ExecStart=\S+/m, `ExecStart=${process.execPath}`));
    const run = spawnSync("systemd-analyze", ["verify", "--no-pager", copy], {
      encoding: "utf8",
    });
    assert.equal(`${run.stdout}${run.stderr}`, "", "systemd-analyze verify printed messages");
    assert.equal(run.status, 0);
    // And it does complain about a broken unit (the empty output above means something).
    const broken = join(tmp, "broken.service");
    writeFileSync(broken, text.replace("Type=notify", "Type=notifyy"));
    const bad = spawnSync("systemd-analyze", ["verify", "--no-pager", broken], {
      encoding: "utf8",
    });
    assert.match(`${bad.stdout}${bad.stderr}`, /notifyy/);
  });

  it("runs the agent as systemd and the agent expect each other", () => {
    assert.equal(one("Type"), "notify");
    // Notifications come from a systemd-notify child (agent/src/service/sd-notify.ts).
    assert.equal(one("NotifyAccess"), "all");
    assert.match(one("WatchdogSec"), /^\d+s$/);
    assert.equal(one("Restart"), "on-failure");
    assert.equal(one("RestartPreventExitStatus"), String(EX_CONFIG));
    const startLimits = new Map(unit.get("Unit") ?? []);
    assert.ok(Number(startLimits.get("StartLimitBurst")) >= 3, "StartLimitBurst= in [Unit]");
    assert.ok(Number.parseInt(startLimits.get("StartLimitIntervalSec") ?? "", 10) >= 60);
    assert.equal(one("StateDirectory"), "ser-edge");
    assert.equal(one("ConfigurationDirectory"), "ser-agent");
    assert.ok(all("Environment").includes(`${CONFIG_FILE_ENV}=/etc/ser-agent/config.json`));
    assert.ok(all("Environment").includes("ORT_DISABLE_TELEMETRY=1"));
    // The memory settings BENCHMARKS.md's figures were measured with.
    for (const [k, v] of Object.entries(SERVICE_MEMORY_ENV)) {
      assert.ok(all("Environment").includes(`${k}=${v}`), `Environment=${k}=${v}`);
    }
    assert.match(one("ExecStart"), /^\/\S+\/node \/opt\/ser-agent\/bin\/ser-agent\.js run$/);
    assert.equal(one("User"), "ser-agent");
    assert.equal(one("SupplementaryGroups"), "audio");
    assert.equal(one("UMask"), "0077");
  });

  it("sandboxes it without taking away what Node.js, ONNX Runtime and arecord need", () => {
    assert.equal(one("DevicePolicy"), "closed");
    assert.deepEqual(all("DeviceAllow"), ["char-alsa rw"]);
    for (const [key, value] of [
      ["ProtectSystem", "strict"],
      ["ProtectHome", "yes"],
      ["PrivateTmp", "yes"],
      ["NoNewPrivileges", "yes"],
      ["CapabilityBoundingSet", ""],
      ["LockPersonality", "yes"],
      ["RestrictNamespaces", "yes"],
      ["RestrictRealtime", "yes"],
      ["ProtectKernelTunables", "yes"],
      ["ProtectKernelModules", "yes"],
      ["ProtectControlGroups", "yes"],
      ["ProtectClock", "yes"],
      ["ProtectProc", "invisible"],
      ["SystemCallArchitectures", "native"],
      ["SystemCallErrorNumber", "EPERM"],
    ]) {
      assert.equal(one(key), value, `${key}=${value}`);
    }
    // V8 writes then runs machine code; a private /dev has no /dev/snd; a user namespace maps
    // the audio group away.
    for (const [key, value] of [
      ["MemoryDenyWriteExecute", "yes"],
      ["PrivateDevices", "yes"],
      ["PrivateUsers", "yes"],
      ["PrivateNetwork", "yes"],
    ]) {
      assert.ok(!all(key).includes(value), `${key}=${value} would break the agent`);
    }
    assert.deepEqual(one("RestrictAddressFamilies").split(/\s+/).sort(), [
      "AF_INET",
      "AF_INET6",
      "AF_UNIX",
    ]);
  });

  const NO_STRACE =
    NO_ANALYZE || (has("strace") ? false : "strace missing (apt-get install strace)");
  it("lets through every system call and socket the agent and arecord make", {
    skip: NO_STRACE,
    timeout: 120_000,
  }, () => {
    // The set SystemCallFilter= allows: @system-service minus the ~ groups, expanded.
    const expand = (group: string, seen = new Set<string>()): Set<string> => {
      const out = new Set<string>();
      if (seen.has(group)) return out;
      seen.add(group);
      const text = execFileSync("systemd-analyze", ["syscall-filter", "--no-pager", group], {
        encoding: "utf8",
      });
      for (const line of text.split("\n").slice(1)) {
        const name = line.trim();
        if (name === "" || name.startsWith("#")) continue;
        for (const n of name.startsWith("@") ? expand(name, seen) : [name]) out.add(n);
      }
      return out;
    };
    const allowed = new Set<string>();
    const denied = new Set<string>();
    for (const filter of all("SystemCallFilter")) {
      const deny = filter.startsWith("~");
      for (const group of filter.replace(/^~/, "").split(/\s+/)) {
        for (const call of expand(group)) (deny ? denied : allowed).add(call);
      }
    }
    for (const call of denied) allowed.delete(call);
    // Refused with EPERM (SystemCallErrorNumber=), and the caller copes: V8 probes memory
    // protection keys for its JIT and falls back to mprotect.
    const tolerated = new Set(["pkey_alloc"]);
    const families = new Set(one("RestrictAddressFamilies").split(/\s+/));

    const trace = (name: string, command: string[], env: NodeJS.ProcessEnv) => {
      const out = join(tmp, `${name}.strace`);
      const run = spawnSync("strace", ["-f", "-qq", "-o", out, ...command], {
        encoding: "utf8",
        env,
        timeout: 100_000,
      });
      assert.equal(run.status, 0, `${name} under strace: ${run.stderr}`);
      const text = readFileSync(out, "utf8");
      const calls = new Set([...text.matchAll(/^\d+ +(\w+)\(/gm)].map((m) => m[1]));
      assert.ok(calls.size > 10, `strace saw only ${[...calls]}`);
      const refused = [...calls].filter((c) => !allowed.has(c) && !tolerated.has(c));
      assert.deepEqual(refused, [], `${name} makes system calls the unit refuses`);
      const used = new Set([...text.matchAll(/socket\((AF_\w+)/g)].map((m) => m[1]));
      assert.deepEqual(
        [...used].filter((f) => !families.has(f)),
        [],
        `${name}: socket families`,
      );
      return run.stdout;
    };

    // The whole pipeline the service runs (Silero VAD and the model in ONNX Runtime, the outbox
    // in $STATE_DIRECTORY, MQTT through the embedded broker), with the unit's environment.
    const state = join(tmp, "state");
    const base = { PATH: process.env.PATH, HOME: "/nonexistent", ...unitEnv() };
    const events = trace(
      "agent",
      [process.execPath, AGENT, "run", "--input", CLIP, "--fast", "--exit-at-end", "--echo"],
      { ...base, STATE_DIRECTORY: state, SER_LOG_LEVEL: "warn" },
    );
    assert.match(events, /angry/, "the traced agent should have published the clip's emotion");
    // arecord through ALSA (the file plugin stands in for a sound card, as in the capture tests).
    const home = join(tmp, "alsa");
    execFileSync("mkdir", ["-p", home]);
    writeFileSync(join(home, "in.raw"), Buffer.alloc(32_000));
    writeFileSync(
      join(home, ".asoundrc"),
      `pcm.sertest {\n  type file\n  slave.pcm "null"\n  file "/dev/null"\n  infile "${join(home, "in.raw")}"\n  format "raw"\n}\n`,
    );
    trace(
      "arecord",
      "arecord -q -D sertest -f S16_LE -r 16000 -c 1 -t raw -d 1 /dev/null".split(" "),
      { ...base, HOME: home },
    );
  });

  // What User=, CapabilityBoundingSet=, NoNewPrivileges= and ProtectSystem=strict with
  // StateDirectory= leave: an unprivileged user with no capability, writing only there.
  const NO_SETPRIV =
    NO_STRACE ||
    (process.getuid?.() !== 0 ? "needs root to switch to an unprivileged user" : false) ||
    (spawnSync("setpriv", ["--help"], { stdio: "ignore" }).status === 0 ? false : "no setpriv");
  it("runs as an unprivileged user without capabilities, writing only its state directory", {
    skip: NO_SETPRIV,
    timeout: 120_000,
  }, () => {
    // Not under tmp (root's 0700): the user must be able to reach it, as /var/lib/ser-edge.
    const state = mkdtempSync(join(tmpdir(), "ser-nobody-"));
    execFileSync("chown", ["nobody:nogroup", state]);
    try {
      const out = join(tmp, "nobody.strace");
      const run = spawnSync(
        "strace",
        [
          ...["-f", "-qq", "-e", "trace=%file", "-o", out],
          ...["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--no-new-privs"],
          ...["--bounding-set=-all", "--inh-caps=-all", process.execPath, AGENT, "run"],
          ...["--input", CLIP, "--fast", "--exit-at-end", "--echo"],
        ],
        {
          encoding: "utf8",
          cwd: "/",
          timeout: 100_000,
          env: {
            PATH: process.env.PATH,
            HOME: "/nonexistent",
            ...unitEnv(),
            STATE_DIRECTORY: state,
            SER_LOG_LEVEL: "warn",
          },
        },
      );
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /angry/);
      const writes = readFileSync(out, "utf8")
        .split("\n")
        .filter((l) => /O_WRONLY|O_RDWR|O_CREAT|\b(mkdir|rename|unlink)\w*\(/.test(l))
        .filter((l) => !l.includes(state) && !/"\/dev\/(null|tty|pts)/.test(l));
      assert.deepEqual(writes, [], "writes outside $STATE_DIRECTORY");
    } finally {
      rmSync(state, { recursive: true, force: true });
    }
  });
});

// deploy/install.sh in a throwaway root: DESTDIR puts every file under a temporary directory,
// and SER_INSTALL_FAKE receives the commands that would change this machine (useradd, chown,
// systemctl, ...), which a test cannot run: a small script records them and plays the user
// database. Everything else is real: the script, the package it installs from (the built agent,
// the default model), and the installed agent, which validates the configuration it writes and
// then classifies a clip from the fake root.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash, generateKeyPairSync } from "node:crypto";
import {
  cpSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const CLIP = join(REPO, "demo/03-01-05-02-02-01-19.flac");

const tmp = mkdtempSync(join(tmpdir(), "ser-install-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

/**
 * The fake system: logs each command line, and keeps the ser-agent user in a file so that
 * getent answers as the real one would after useradd/userdel.
 */
const FAKE = `#!/usr/bin/env bash
echo "$*" >>"$FAKE_LOG"
case "$1 \${2:-}" in
  "getent passwd") [ -e "$FAKE_STATE/user-$3" ] ;;
  "getent group") [ "$3" = audio ] ;;
  "useradd "*) touch "$FAKE_STATE/user-\${!#}" ;;
  "userdel "*) rm -f "$FAKE_STATE/user-$2" ;;
esac
`;

/**
 * A package as `npm run package` lays it out (bin/, dist/, wasm/, package.json, models/default,
 * node_modules/, deploy/), from this checkout. node_modules is a symbolic link to the
 * checkout's, so that installing copies a link instead of 800 MB.
 */
function makePackage(dir: string): void {
  mkdirSync(join(dir, "deploy"), { recursive: true });
  for (const part of ["bin", "dist", "wasm", "package.json"]) {
    cpSync(join(REPO, "agent", part), join(dir, part), { recursive: true });
  }
  cpSync(join(REPO, "models/default"), join(dir, "models/default"), { recursive: true });
  symlinkSync(join(REPO, "node_modules"), join(dir, "node_modules"));
  for (const f of ["install.sh", "ser-agent.service", "README.md"]) {
    cpSync(join(REPO, "deploy", f), join(dir, "deploy", f));
  }
}

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
  /** The commands handed to the fake system by this run. */
  commands: string[];
}

class FakeMachine {
  readonly root: string;
  readonly log: string;
  readonly state: string;
  constructor(readonly name: string) {
    this.root = join(tmp, name, "root");
    this.log = join(tmp, name, "commands.log");
    this.state = join(tmp, name, "state");
    mkdirSync(this.state, { recursive: true });
    writeFileSync(join(tmp, "fake-system"), FAKE, { mode: 0o755 });
  }

  /** Runs `install.sh args` from `pkg`; fake: hand system commands to the fake, else skip them. */
  install(pkg: string, args: string[], fake = true): Run {
    writeFileSync(this.log, "");
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      DESTDIR: this.root,
      FAKE_LOG: this.log,
      FAKE_STATE: this.state,
    };
    if (fake) env.SER_INSTALL_FAKE = join(tmp, "fake-system");
    const run = spawnSync("bash", [join(pkg, "deploy/install.sh"), ...args], {
      encoding: "utf8",
      env,
      timeout: 60_000,
    });
    const commands = readFileSync(this.log, "utf8").split("\n").filter(Boolean);
    return { code: run.status, stdout: run.stdout, stderr: run.stderr, commands };
  }

  path(p: string): string {
    return join(this.root, p);
  }

  mode(p: string): string {
    return (lstatSync(this.path(p)).mode & 0o7777).toString(8).padStart(4, "0");
  }

  json(p: string): unknown {
    return JSON.parse(readFileSync(this.path(p), "utf8"));
  }

  /** Every path under the root with its mode and, for files, content: for idempotency. */
  snapshot(): Map<string, string> {
    const out = new Map<string, string>();
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const p = join(dir, name);
        const st = lstatSync(p);
        const key = relative(this.root, p);
        if (st.isDirectory()) {
          out.set(key, `dir ${st.mode & 0o7777}`);
          walk(p);
        } else if (st.isSymbolicLink()) {
          out.set(key, "link");
        } else {
          const hash = createHash("sha256").update(readFileSync(p)).digest("hex");
          out.set(key, `${st.mode & 0o7777} ${hash}`);
        }
      }
    };
    walk(this.root);
    return out;
  }
}

const ok = (run: Run, what: string) =>
  assert.equal(run.code, 0, `${what} failed (exit ${run.code}):\n${run.stderr}\n${run.stdout}`);

describe("deploy/install.sh (package layout, fake root)", () => {
  const pkg = join(tmp, "ser-agent-0.1.0-linux-x64");
  const m = new FakeMachine("pkg");
  const keys = join(tmp, "keys");
  /** The options of the full install, and of its idempotent repetition. */
  const installArgs = () => [
    "--broker",
    "mqtt://broker.lan:1883",
    "--device-id",
    "kitchen",
    "--trust-key",
    join(keys, "release.pub"),
    "--node",
    process.execPath,
    "--no-apt",
  ];
  let first: Run;

  before(() => {
    makePackage(pkg);
    mkdirSync(keys);
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    writeFileSync(join(keys, "release.pub"), publicKey.export({ type: "spki", format: "pem" }));
    writeFileSync(join(keys, "release.key"), privateKey.export({ type: "pkcs8", format: "pem" }));
    first = m.install(pkg, installArgs());
  });

  it("installs the application where the unit runs it, and the agent works from there", () => {
    ok(first, "install");
    for (const p of [
      "opt/ser-agent/bin/ser-agent.js",
      "opt/ser-agent/dist/cli.js",
      "opt/ser-agent/wasm/frames.wasm",
      "opt/ser-agent/package.json",
      "opt/ser-agent/models/default/manifest.json",
      "opt/ser-agent/models/default/model.onnx",
      "opt/ser-agent/node_modules",
      "opt/ser-agent/deploy/install.sh",
    ]) {
      assert.ok(existsSync(m.path(p)), `${p} missing`);
    }
    assert.equal(m.mode("opt/ser-agent"), "0755");
    assert.equal(m.mode("opt/ser-agent/deploy/install.sh"), "0755");
    assert.ok(!existsSync(m.path("opt/ser-agent.new")) && !existsSync(m.path("opt/ser-agent.old")));
    // The installed agent finds its default model beside dist/ and runs it.
    const out = execFileSync(
      process.execPath,
      [m.path("opt/ser-agent/bin/ser-agent.js"), "classify", CLIP],
      { encoding: "utf8", env: { PATH: process.env.PATH, ORT_DISABLE_TELEMETRY: "1" } },
    );
    assert.equal(JSON.parse(out).label, "angry");
  });

  it("writes /etc/ser-agent with tight modes, the options' settings and the references", () => {
    ok(first, "install");
    assert.equal(m.mode("etc/ser-agent"), "0750");
    assert.equal(m.mode("etc/ser-agent/config.json"), "0640");
    assert.equal(m.mode("etc/ser-agent/trusted-keys"), "0750");
    assert.equal(m.mode("etc/ser-agent/trusted-keys/release.pub"), "0640");
    assert.equal(m.mode("etc/ser-agent/config.example.json"), "0640");
    assert.deepEqual(m.json("etc/ser-agent/config.json"), {
      mqtt: { url: "mqtt://broker.lan:1883" },
      device: { id: "kitchen" },
      model: { trustedKeys: "/etc/ser-agent/trusted-keys" },
    });
    assert.equal(
      readFileSync(m.path("etc/ser-agent/trusted-keys/release.pub"), "utf8"),
      readFileSync(join(keys, "release.pub"), "utf8"),
    );
    // The full reference, from the installed agent: what `ser-agent config --example` prints
    // (config/ser-agent.example.json once built), every setting at its default.
    const example = execFileSync(
      process.execPath,
      [join(REPO, "agent/bin/ser-agent.js"), "config", "--example"],
      {
        encoding: "utf8",
      },
    );
    assert.equal(readFileSync(m.path("etc/ser-agent/config.example.json"), "utf8"), example);
    assert.equal(
      (m.json("etc/ser-agent/config.example.json") as { mqtt: { url: string } }).mqtt.url,
      "",
    );
    assert.match(readFileSync(m.path("etc/ser-agent/README.md"), "utf8"), /mqtt\.baseTopic/);
    assert.ok(!existsSync(m.path("etc/ser-agent/config.json.new")));
    // Ownership goes to root:ser-agent, after the user exists.
    const c = first.commands;
    const useradd = c.findIndex((l) => l.startsWith("useradd "));
    assert.match(
      c[useradd],
      /--system .*--groups audio .*--shell \/usr\/sbin\/nologin .*ser-agent$/,
    );
    for (const p of [
      "etc/ser-agent",
      "etc/ser-agent/trusted-keys",
      "etc/ser-agent/config.json.new",
    ]) {
      const i = c.indexOf(`chown root:ser-agent ${m.path(p)}`);
      assert.ok(i > useradd, `chown root:ser-agent ${p} after useradd: ${c.join("\n")}`);
    }
  });

  it("installs the unit with this machine's Node.js, then enables and restarts it", () => {
    ok(first, "install");
    const shipped = readFileSync(join(REPO, "deploy/ser-agent.service"), "utf8");
    const installed = readFileSync(m.path("etc/systemd/system/ser-agent.service"), "utf8");
    assert.equal(m.mode("etc/systemd/system/ser-agent.service"), "0644");
    assert.equal(
      installed,
      shipped.replace(
        /^ExecStart=.*$/m,
        `ExecStart=${process.execPath} /opt/ser-agent/bin/ser-agent.js run`,
      ),
    );
    const systemctl = first.commands.filter((l) => l.startsWith("systemctl "));
    assert.deepEqual(systemctl, [
      "systemctl daemon-reload",
      "systemctl enable ser-agent.service",
      "systemctl restart ser-agent.service",
    ]);
    assert.match(first.stdout, /mosquitto_sub -h broker\.lan -p 1883 -t "ser-edge\/kitchen\/#" -v/);
    assert.match(first.stdout, /journalctl -u ser-agent -f/);
  });

  it("is idempotent: a second run with the same options changes nothing", () => {
    ok(first, "install");
    const before = m.snapshot();
    const again = m.install(pkg, installArgs());
    ok(again, "second install");
    assert.deepEqual(m.snapshot(), before);
    assert.ok(!again.commands.some((l) => l.startsWith("useradd")), "useradd on the second run");
    assert.ok(again.commands.includes("usermod --append --groups audio ser-agent"));
  });

  it("updates only the settings it is given, keeping the others (run from the installed copy)", () => {
    // /opt/ser-agent/deploy/install.sh reconfigures without copying the application onto itself.
    const run = m.install(m.path("opt/ser-agent"), [
      "--broker",
      "mqtts://broker.example.com:8883",
      "--set",
      "log.level=debug",
      "--set",
      "mqtt.statusIntervalSec=30",
      "--node",
      process.execPath,
      "--no-apt",
    ]);
    ok(run, "update");
    assert.match(run.stdout, /running from the installed copy/);
    assert.ok(existsSync(m.path("opt/ser-agent/bin/ser-agent.js")));
    assert.deepEqual(m.json("etc/ser-agent/config.json"), {
      mqtt: { url: "mqtts://broker.example.com:8883", statusIntervalSec: 30 },
      device: { id: "kitchen" },
      model: { trustedKeys: "/etc/ser-agent/trusted-keys" },
      log: { level: "debug" },
    });
    assert.match(run.stdout, /-p 8883 --cafile CA\.pem -t "ser-edge\/kitchen\/#"/);
  });

  it("refuses what the agent would refuse, and leaves the configuration as it was", () => {
    const before = readFileSync(m.path("etc/ser-agent/config.json"), "utf8");
    const bad = m.install(pkg, [
      "--device-id",
      "living room",
      "--set",
      "mqtt.baseTopc=x",
      "--no-apt",
    ]);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /device\.id: "living room"/);
    assert.match(bad.stderr, /mqtt\.baseTopc .*Did you mean "mqtt\.baseTopic"\?/);
    assert.match(bad.stderr, /configuration was not changed/);
    assert.equal(readFileSync(m.path("etc/ser-agent/config.json"), "utf8"), before);
    assert.ok(!existsSync(m.path("etc/ser-agent/config.json.new")));

    const secret = m.install(pkg, ["--trust-key", join(keys, "release.key"), "--no-apt"]);
    assert.equal(secret.code, 1);
    assert.match(secret.stderr, /is a private key; give the public key/);
    const password = m.install(pkg, ["--set", "mqtt.password=hunter2", "--no-apt"]);
    assert.equal(password.code, 1);
    assert.match(password.stderr, /visible to every user/);
    const typo = m.install(pkg, ["--brokr", "mqtt://x"]);
    assert.equal(typo.code, 1);
    assert.match(typo.stderr, /unknown option "--brokr"; see --help/);
    assert.equal(readFileSync(m.path("etc/ser-agent/config.json"), "utf8"), before);
  });

  it("--uninstall removes what it added but the state directory; --purge that too", () => {
    // What systemd would have created for StateDirectory=ser-edge.
    mkdirSync(m.path("var/lib/ser-edge/outbox"), { recursive: true });
    writeFileSync(m.path("var/lib/ser-edge/outbox/000001.json"), "{}");
    const run = m.install(pkg, ["--uninstall"]);
    ok(run, "uninstall");
    for (const p of ["opt/ser-agent", "etc/ser-agent", "etc/systemd/system/ser-agent.service"]) {
      assert.ok(!existsSync(m.path(p)), `${p} still there`);
    }
    assert.ok(existsSync(m.path("var/lib/ser-edge/outbox/000001.json")));
    assert.deepEqual(
      run.commands.filter((l) => !l.startsWith("getent")),
      [
        "systemctl disable --now ser-agent.service",
        "systemctl daemon-reload",
        "systemctl reset-failed ser-agent.service",
        "userdel ser-agent",
      ],
    );
    const purge = m.install(pkg, ["--uninstall", "--purge"]);
    ok(purge, "purge");
    assert.ok(!existsSync(m.path("var/lib/ser-edge")));
    assert.ok(!purge.commands.includes("userdel ser-agent"), "the user was already gone");
  });
});

describe("deploy/install.sh (checkout layout, DESTDIR only)", () => {
  it("installs from a checkout the same way, skipping what would change this machine", () => {
    const checkout = join(tmp, "checkout");
    mkdirSync(join(checkout, "agent"), { recursive: true });
    for (const part of ["bin", "dist", "wasm", "package.json"]) {
      cpSync(join(REPO, "agent", part), join(checkout, "agent", part), { recursive: true });
    }
    cpSync(join(REPO, "models/default"), join(checkout, "models/default"), { recursive: true });
    cpSync(join(REPO, "deploy"), join(checkout, "deploy"), { recursive: true });
    symlinkSync(join(REPO, "node_modules"), join(checkout, "node_modules"));
    const m = new FakeMachine("checkout");
    const run = m.install(checkout, ["--no-apt", "--node", process.execPath], false);
    ok(run, "install");
    assert.deepEqual(run.commands, [], "nothing may reach the system without SER_INSTALL_FAKE");
    assert.match(run.stdout, /DESTDIR: skipped: useradd\/usermod ser-agent/);
    assert.match(run.stdout, /systemd is not running here/);
    assert.ok(statSync(m.path("opt/ser-agent/agent/bin/ser-agent.js")).isFile());
    assert.match(
      readFileSync(m.path("etc/systemd/system/ser-agent.service"), "utf8"),
      /^ExecStart=\S+ \/opt\/ser-agent\/agent\/bin\/ser-agent\.js run$/m,
    );
    assert.ok(statSync(m.path("opt/ser-agent/models/default/model.onnx")).isFile());
    assert.deepEqual(m.json("etc/ser-agent/config.json"), {});
    // Without a broker the agent runs its own, and the hint says where to look.
    assert.match(run.stdout, /mosquitto_sub -h 127\.0\.0\.1 -p 1883 -t "ser-edge\/[\w-]+\/#" -v/);
  });
});

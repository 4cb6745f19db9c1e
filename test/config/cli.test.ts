import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { main } from "../../agent/src/cli.js";
import { exampleConfig } from "../../agent/src/config/index.js";

const dir = mkdtempSync(join(tmpdir(), "ser-config-cli-"));
let n = 0;
function file(content: unknown): string {
  const path = join(dir, `c${n++}.json`);
  writeFileSync(path, typeof content === "string" ? content : JSON.stringify(content));
  return path;
}

async function run(argv: string[]) {
  let out = "";
  let err = "";
  const code = await main(argv, { out: (t) => (out += t), err: (t) => (err += t) });
  return { code, out, err };
}

describe("ser-agent config", () => {
  it("--check accepts the defaults and a valid file", async () => {
    const r = await run(["config", "--check"]);
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /configuration ok/);
    const f = file({ mqtt: { url: "mqtt://broker.local:1883" }, log: { format: "logfmt" } });
    const withFile = await run(["config", "--check", "--config", f]);
    assert.equal(withFile.code, 0, withFile.err);
    assert.ok(withFile.out.includes(f));
  });

  it("exits 78 (EX_CONFIG) on a misspelt key, naming it and the right one", async () => {
    const f = file({ mqtt: { baseTopc: "home/ser-edge" } });
    const r = await run(["config", "--check", "--config", f]);
    assert.equal(r.code, 78);
    assert.equal(r.out, "");
    assert.match(r.err, /^ser-agent config: invalid configuration: mqtt\.baseTopc \(in /);
    assert.match(r.err, /Did you mean "mqtt\.baseTopic"\?/);
    const printing = await run(["config", "--print", "--config", f]);
    assert.equal(printing.code, 78, "--print validates too");
    assert.equal(printing.out, "");
  });

  it("exits 78 on a bad value given as an argument, with the allowed values", async () => {
    const r = await run(["config", "--check", "--input-source", "microphone"]);
    assert.equal(r.code, 78);
    assert.match(r.err, /input\.source: "microphone" is not an allowed value/);
    assert.match(r.err, /one of "mic", "file", "-"; correct --input-source/);
    const port = await run(["config", "--check", "--mqtt-embedded-port", "99999"]);
    assert.equal(port.code, 78);
    assert.match(port.err, /mqtt\.embeddedPort: 99999 is not a TCP port/);
  });

  it("exits 78 on a missing or malformed file", async () => {
    const missing = await run(["config", "--check", "--config", join(dir, "nope.json")]);
    assert.equal(missing.code, 78);
    assert.match(missing.err, /nope\.json does not exist/);
    const broken = await run(["config", "--check", "--config", file('{"mqtt": {,}}')]);
    assert.equal(broken.code, 78);
    assert.match(broken.err, /is not valid JSON/);
  });

  it("--print shows the effective configuration with the password redacted", async () => {
    const f = file({ mqtt: { password: "hunter2", username: "agent", baseTopic: "from-file" } });
    const r = await run(["config", "--print", "--config", f, "--mqtt-base-topic", "from-arg"]);
    assert.equal(r.code, 0, r.err);
    const printed = JSON.parse(r.out);
    assert.equal(printed.mqtt.password, "***");
    assert.equal(printed.mqtt.username, "agent");
    assert.equal(printed.mqtt.baseTopic, "from-arg", "arguments override the file");
    assert.ok(printed.device.id.length > 0, "automatic settings are resolved");
    assert.ok(!r.out.includes("hunter2") && !r.err.includes("hunter2"));
  });

  it("--example prints a file that --check accepts", async () => {
    const r = await run(["config", "--example"]);
    assert.equal(r.code, 0);
    assert.equal(r.out, exampleConfig());
    const check = await run(["config", "--check", "--config", file(r.out)]);
    assert.equal(check.code, 0, check.err);
  });

  it("--docs prints the reference", async () => {
    const r = await run(["config", "--docs"]);
    assert.equal(r.code, 0);
    assert.match(r.out, /\| `mqtt\.url` \|/);
  });

  it("exits 2 on a wrong command line", async () => {
    assert.equal((await run(["config"])).code, 2);
    assert.equal((await run(["config", "--check", "--print"])).code, 2);
    assert.equal((await run(["config", "--check", "stray"])).code, 2);
    const unknown = await run(["config", "--check", "--mqtt-urll", "x"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.err, /mqtt-urll/);
  });
});

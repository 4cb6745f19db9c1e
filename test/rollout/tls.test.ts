// Rollout and events through a TLS broker with a password: a real mosquitto listening on
// mqtts:// with a throwaway CA, a real agent process, the real `ser-trainer push`.
import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { Mosquitto, makeTlsFiles, type TlsFiles, tmp } from "../mqtt/helpers.js";
import { AgentProcess } from "./agent-process.js";
import {
  type Base,
  baseBundle,
  type Keys,
  makeKeys,
  runTrainer,
  version,
  writeBundleDir,
} from "./fixtures.js";

let root: string;
let tls: TlsFiles;
let broker: Mosquitto;
let base: Base;
let keys: Keys;
let agent: AgentProcess | undefined;
const PASSWORD = "s3cret-for-tests";

before(async () => {
  root = tmp("rollout-tls");
  tls = makeTlsFiles(root);
  broker = await Mosquitto.start({ tls, users: { fleet: PASSWORD, t1: PASSWORD } });
  base = await baseBundle(join(root, "installed"));
  keys = makeKeys(join(root, "keys"));
  writeFileSync(join(root, "password"), `${PASSWORD}\n`);
  writeFileSync(join(root, "wrong"), "not-the-password\n");
});

after(async () => {
  await agent?.stop();
  await broker.dispose();
  rmSync(root, { recursive: true, force: true });
});

const push = (args: string[]) => runTrainer(["push", ...args]);

test("over mqtts:// with a password: the agent connects, a push is applied and reported", async () => {
  assert.match(broker.url, /^mqtts:/);
  agent = new AgentProcess(
    [
      "--model-dir",
      base.dir,
      "--mqtt-url",
      broker.url,
      "--mqtt-ca",
      tls.ca,
      "--mqtt-username",
      "t1",
      "--device-id",
      "t1",
      "--model-trusted-keys",
      keys.pubFile,
      "--rollout-dir",
      join(root, "state"),
      "--log-level",
      "debug",
    ],
    // A password never goes on a command line (ps shows it): the environment or the file.
    { SER_MQTT_PASSWORD: PASSWORD },
  );
  await agent.waitForLog("mqtt subscribed", (l) => String(l.topic).endsWith("/model/set"));
  const dir = writeBundleDir(
    join(root, "v002"),
    version(base, "0.0.2", keys.privateKey),
    base.model,
  );
  const common = [
    dir,
    "--broker",
    broker.url,
    "--device",
    "t1",
    "--username",
    "fleet",
    "--wait-sec",
    "20",
  ];

  const noCa = await push([...common, "--password-file", join(root, "password")]);
  assert.equal(noCa.code, 1);
  assert.match(noCa.err, /cannot connect to mqtts:\/\/127\.0\.0\.1:\d+ .*certificates/);

  const badLogin = await push([...common, "--ca", tls.ca, "--password-file", join(root, "wrong")]);
  assert.equal(badLogin.code, 1);
  assert.match(badLogin.err, /refused the login/);

  const ok = await push([...common, "--ca", tls.ca, "--password-file", join(root, "password")]);
  assert.equal(ok.code, 0, ok.out + ok.err);
  assert.match(ok.out, /^t1 {2}applied/m);
  await agent.waitForLog("rollout: model applied", (l) => l.to === "0.0.2");
});

import { randomUUID } from "node:crypto";
import { type Command, intOption, UsageError } from "@ser-edge/agent/cli-kit";
import { loadPrivateKey, readBundle } from "@ser-edge/agent/model";
import { validateFleet } from "@ser-edge/agent/mqtt";
import { encodeEnvelope, signRollback } from "@ser-edge/agent/rollout";
import { BROKER_OPTIONS, BROKER_USAGE, brokerFromArgs, connectBroker } from "../fleet/broker.js";
import { pushBundle } from "../fleet/push.js";

const list = (v: unknown) =>
  typeof v === "string"
    ? v
        .split(",")
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;

export const pushCommand: Command = {
  name: "push",
  summary: "roll a signed model bundle out to devices over MQTT (canaries first)",
  usage: `Usage: ser-trainer push BUNDLE_DIR --broker URL (--fleet NAME | --device ID,...) [options]

Publishes the signed bundle, retained, on <base>/fleet/<fleet>/model or on each
<base>/<device>/model/set, so that a device that is offline gets it when it returns. Each device
checks it (size, format, signature, hash, version newer than its own, ONNX graph, self-test),
swaps it in without dropping audio and reports on <base>/<device>/model/state; this command
prints those reports.

Staged rollout: with --canary or --canary-percent the canaries get it first; once each reported
"applied" and stayed online and applied for --healthy-sec, the rest get it. If a canary
rejects it, rolls it back, goes offline or does not report, the rollout stops there (exit 1)
and the canaries' pushes are withdrawn.

Exit status: 0 every device reported applied; 1 a device rejected or rolled back, or the
rollout stopped; 3 some devices have not reported yet (offline: they will get it later).

Target:
  --fleet NAME            every device whose device.fleet is NAME
  --device ID,...         these devices
  --canary ID,...         these first
  --canary-percent N      N % of the fleet's devices seen on the broker first (at least one)
  --healthy-sec S         how long canaries must stay healthy (default 60)
  --wait-sec S            how long to wait for each stage's reports (default 60)
  --rollback              the bundle is older than what devices run: go back on purpose.
                          Needs --key, the private key whose public key the devices trust
  --key FILE              signing key for --rollback (from \`ser-trainer keygen\`)

${BROKER_USAGE}`,
  options: {
    ...BROKER_OPTIONS,
    fleet: { type: "string" },
    device: { type: "string" },
    canary: { type: "string" },
    "canary-percent": { type: "string" },
    "healthy-sec": { type: "string" },
    "wait-sec": { type: "string" },
    rollback: { type: "boolean" },
    key: { type: "string" },
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1) throw new UsageError("give exactly one bundle directory");
    const fleet = typeof values.fleet === "string" ? values.fleet : undefined;
    const devices = list(values.device);
    if ((fleet === undefined) === (devices === undefined)) {
      throw new UsageError("give either --fleet NAME or --device ID,...");
    }
    if (fleet !== undefined) validateFleet(fleet);
    const canary = list(values.canary);
    const percentText = values["canary-percent"];
    const canaryPercent =
      percentText === undefined ? undefined : intOption(percentText, "canary-percent", 0);
    if (canaryPercent !== undefined && (canaryPercent < 1 || canaryPercent > 100)) {
      throw new UsageError("--canary-percent expects 1 to 100");
    }
    if (canary && canaryPercent !== undefined) {
      throw new UsageError("give --canary or --canary-percent, not both");
    }
    if (canary && devices) {
      const strays = canary.filter((d) => !devices.includes(d));
      if (strays.length) throw new UsageError(`canaries not among --device: ${strays.join(", ")}`);
    }
    const broker = brokerFromArgs(values);
    const base = typeof values.base === "string" ? values.base : "ser-edge";

    // The device checks everything again; refusing here saves a round trip and a bad report.
    const { manifest, modelBytes } = await readBundle(positionals[0], { requireSignature: false });
    if (!manifest.signature) {
      throw new Error(
        `${positionals[0]}: the bundle is not signed and devices refuse unsigned models; sign it with \`ser-trainer sign ${positionals[0]} --key NAME.key\``,
      );
    }
    let rollback: unknown;
    if (values.rollback === true) {
      if (typeof values.key !== "string") throw new UsageError("--rollback needs --key FILE");
      rollback = signRollback(
        { version: manifest.version, sha256: manifest.model.sha256 },
        await loadPrivateKey(values.key),
      );
    }
    const id = randomUUID();
    const envelope = encodeEnvelope(
      {
        id,
        issuedAt: new Date().toISOString(),
        manifest,
        ...(rollback ? { rollback } : {}),
      },
      modelBytes,
    );
    io.out(
      `pushing ${manifest.name} ${manifest.version} (${envelope.length} bytes, push ${id}) to ${fleet ? `fleet ${fleet}` : (devices ?? []).join(", ")}\n`,
    );
    const client = await connectBroker(broker, `ser-trainer-push-${id.slice(0, 8)}`);
    try {
      const result = await pushBundle(
        client,
        { id, version: manifest.version, sha256: manifest.model.sha256, envelope },
        {
          base,
          ...(fleet ? { fleet } : {}),
          ...(devices ? { devices } : {}),
          ...(canary ? { canary } : {}),
          ...(canaryPercent !== undefined ? { canaryPercent } : {}),
          waitMs: intOption(values["wait-sec"], "wait-sec", 60) * 1000,
          healthyMs: intOption(values["healthy-sec"], "healthy-sec", 60) * 1000,
          log: (line) => io.out(`${line}\n`),
        },
      );
      const rows = [...result.outcomes.entries()].sort(([a], [b]) => (a < b ? -1 : 1));
      for (const [device, o] of rows) {
        const why = o.report?.reason ? `: ${o.report.reason}` : "";
        const code = o.report?.code ? ` [${o.report.code}]` : "";
        io.out(`${device}  ${o.outcome}${code}${why}\n`);
      }
      const outcomes = rows.map(([, o]) => o.outcome);
      if (result.outcome === "stopped") {
        io.err(`ser-trainer push: rollout stopped: ${result.reason}\n`);
        return 1;
      }
      if (outcomes.some((o) => o === "rejected" || o === "rolled_back")) return 1;
      if (outcomes.includes("pending")) {
        io.out("devices that have not reported get the bundle when they reconnect\n");
        return 3;
      }
      return 0;
    } finally {
      await client.endAsync();
    }
  },
};

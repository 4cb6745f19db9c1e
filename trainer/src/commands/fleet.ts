import { type Command, intOption, UsageError } from "@ser-edge/agent/cli-kit";
import { BROKER_OPTIONS, BROKER_USAGE, brokerFromArgs, connectBroker } from "../fleet/broker.js";
import { FleetObserver, settle } from "../fleet/observe.js";
import { fleetRows, formatTable } from "../fleet/status.js";

export const fleetCommand: Command = {
  name: "fleet",
  summary: "list the devices on a broker: availability, model, last rollout",
  usage: `Usage: ser-trainer fleet status --broker URL [--fleet NAME] [--json] [options]

Lists every device that published under <base>/ (retained availability, status and rollout
reports): whether it is online, the model version it runs, its last health report and the
outcome of its last rollout. --json prints the rows as a JSON array.

  --fleet NAME    only this fleet's devices
  --json          JSON instead of a table
  --wait-ms N     how long to collect the broker's messages (default 1500)

${BROKER_USAGE}`,
  options: {
    ...BROKER_OPTIONS,
    fleet: { type: "string" },
    json: { type: "boolean" },
    "wait-ms": { type: "string" },
  },
  async run(values, positionals, io) {
    if (positionals.length !== 1 || positionals[0] !== "status") {
      throw new UsageError('the only subcommand is "status"');
    }
    const broker = brokerFromArgs(values);
    const base = typeof values.base === "string" ? values.base : "ser-edge";
    const client = await connectBroker(broker, `ser-trainer-fleet-${process.pid}`);
    try {
      const observer = new FleetObserver(client, base);
      await observer.start();
      await settle(intOption(values["wait-ms"], "wait-ms", 1500));
      const fleet = typeof values.fleet === "string" ? values.fleet : undefined;
      const rows = fleetRows(observer.devices.values(), fleet);
      if (values.json === true) io.out(`${JSON.stringify(rows, null, 2)}\n`);
      else if (rows.length === 0) io.out(`no devices under ${base}/ on ${broker.url}\n`);
      else io.out(formatTable(rows));
      return 0;
    } finally {
      await client.endAsync();
    }
  },
};

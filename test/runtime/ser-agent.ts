// The ser-agent executable from the sources, for tests that need a real process (signals,
// sd_notify, exit status): what agent/bin/ser-agent.js does with the built dist/.
import { main } from "../../agent/src/cli.js";

process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});
process.exitCode = await main(process.argv.slice(2));

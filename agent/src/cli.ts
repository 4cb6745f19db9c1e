import { readFileSync } from "node:fs";
import { benchCommand } from "./cli/bench.js";
import { classifyCommand } from "./cli/classify.js";
import { type Io, processIo, runProgram } from "./cli/command.js";
import { configCommand } from "./cli/config.js";
import { inspectCommand } from "./cli/inspect.js";
import { runCommand } from "./cli/run.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** ser-agent: the device side of ser-edge. */
export function main(argv: string[], io: Io = processIo): Promise<number> {
  return runProgram(
    {
      name: "ser-agent",
      version: pkg.version,
      description: "speech emotion recognition on the device",
      commands: [inspectCommand, runCommand, classifyCommand, configCommand, benchCommand],
    },
    argv,
    io,
  );
}

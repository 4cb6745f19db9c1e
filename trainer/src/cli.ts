import { readFileSync } from "node:fs";
import { type Io, processIo, runProgram } from "@ser-edge/agent/cli-kit";
import { datasetsCommand } from "./commands/datasets.js";
import { featuresCommand } from "./commands/features.js";
import { parityCommand } from "./commands/parity.js";
import { trainCommand } from "./commands/train.js";

const pkg = JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as {
  version: string;
};

/** ser-trainer: the workstation side of ser-edge. */
export function main(argv: string[], io: Io = processIo): Promise<number> {
  return runProgram(
    {
      name: "ser-trainer",
      version: pkg.version,
      description: "build, evaluate and ship speech emotion models",
      commands: [datasetsCommand, trainCommand, featuresCommand, parityCommand],
    },
    argv,
    io,
  );
}

import { readFileSync } from "node:fs";
import { type Io, processIo, runProgram } from "@ser-edge/agent/cli-kit";
import { datasetsCommand } from "./commands/datasets.js";
import { defaultModelCommand } from "./commands/default-model.js";
import { evaluateCommand } from "./commands/evaluate.js";
import { exportCommand } from "./commands/export.js";
import { featuresCommand } from "./commands/features.js";
import { fleetCommand } from "./commands/fleet.js";
import { keygenCommand } from "./commands/keygen.js";
import { parityCommand } from "./commands/parity.js";
import { pushCommand } from "./commands/push.js";
import { signCommand } from "./commands/sign.js";
import { trainCommand } from "./commands/train.js";
import { verifyCommand } from "./commands/verify.js";

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
      commands: [
        datasetsCommand,
        trainCommand,
        exportCommand,
        evaluateCommand,
        defaultModelCommand,
        featuresCommand,
        parityCommand,
        keygenCommand,
        signCommand,
        verifyCommand,
        pushCommand,
        fleetCommand,
      ],
    },
    argv,
    io,
  );
}

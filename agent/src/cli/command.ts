import { type ParseArgsConfig, parseArgs } from "node:util";

/** Output streams, injectable so that commands can be tested without a child process. */
export interface Io {
  out: (text: string) => void;
  err: (text: string) => void;
}

export const processIo: Io = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** A subcommand of ser-agent or ser-trainer. */
export interface Command {
  name: string;
  summary: string;
  /** Usage text shown by `--help`, starting with the synopsis. */
  usage: string;
  options: NonNullable<ParseArgsConfig["options"]>;
  run(
    values: Record<string, string | boolean | (string | boolean)[] | undefined>,
    positionals: string[],
    io: Io,
  ): Promise<number>;
}

/** A mistake in how the command was called: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

export interface Program {
  name: string;
  version: string;
  description: string;
  commands: Command[];
}

function programHelp(p: Program): string {
  const width = Math.max(...p.commands.map((c) => c.name.length));
  const lines = p.commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`);
  return `${p.name} ${p.version}: ${p.description}

Usage: ${p.name} <command> [options]

Commands:
${lines.join("\n")}

Run \`${p.name} <command> --help\` for a command's options.
`;
}

/** Parses argv, runs the subcommand, and turns every failure into a message and an exit code. */
export async function runProgram(p: Program, argv: string[], io: Io = processIo): Promise<number> {
  const [first, ...rest] = argv;
  if (first === undefined || first === "--help" || first === "-h" || first === "help") {
    io.out(programHelp(p));
    return first === undefined ? 2 : 0;
  }
  if (first === "--version" || first === "-V") {
    io.out(`${p.version}\n`);
    return 0;
  }
  const cmd = p.commands.find((c) => c.name === first);
  if (!cmd) {
    io.err(`${p.name}: unknown command "${first}"\n\n${programHelp(p)}`);
    return 2;
  }
  if (rest.includes("--help") || rest.includes("-h")) {
    io.out(`${cmd.usage.trimEnd()}\n`);
    return 0;
  }
  try {
    const { values, positionals } = parseArgs({
      args: rest,
      options: cmd.options,
      allowPositionals: true,
      strict: true,
    });
    return await cmd.run(values, positionals, io);
  } catch (err) {
    const e = err as Error & { code?: string };
    if (err instanceof UsageError || e.code?.startsWith("ERR_PARSE_ARGS")) {
      io.err(`${p.name} ${cmd.name}: ${e.message}\n\n${cmd.usage.trimEnd()}\n`);
      return 2;
    }
    io.err(`${p.name} ${cmd.name}: ${e.message}\n`);
    return 1;
  }
}

/** Reads an integer option, with the option's name in the error. */
export function intOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || !/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new UsageError(`--${name} expects an integer, got "${String(value)}"`);
  }
  return n;
}

/** Reads a number option, with the option's name in the error. */
export function numberOption(value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (typeof value !== "string" || value.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${name} expects a number, got "${String(value)}"`);
  }
  return n;
}

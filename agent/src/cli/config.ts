import {
  ConfigError,
  configFilePath,
  configReadme,
  exampleConfig,
  loadConfig,
  redacted,
  SETTINGS,
  settingArgs,
} from "../config/index.js";
import { type Command, UsageError } from "./command.js";

/** Every setting as a `--name VALUE` option, for commands that take the configuration. */
export const settingOptions: Command["options"] = Object.fromEntries(
  SETTINGS.filter((s) => s.arg).map((s) => [s.arg as string, { type: "string" as const }]),
);

export const configCommand: Command = {
  name: "config",
  summary: "check or print the agent's configuration (file, SER_* environment, arguments)",
  usage: `Usage: ser-agent config --check|--print [--config FILE] [--SETTING VALUE]...
       ser-agent config --example|--docs

Loads the configuration as the agent does: the defaults, then the JSON file (--config FILE, else
$SER_CONFIG), then SER_* environment variables, then --SETTING VALUE arguments (e.g.
--mqtt-url mqtt://broker.local:1883, --log-level debug; booleans take true or false; --docs
lists every setting).
Validation is strict: an unknown key, a value outside its format or a contradiction is reported
with the setting, the value, where it came from and how to fix it, and the exit status is 78
(EX_CONFIG).

Options:
  --check           validate; exit 0 if the agent could start with this configuration, else 78
  --print           validate, then print the effective configuration as JSON, with automatic
                    settings resolved and secrets shown as "***"
  --config FILE     configuration file (JSON; default: $SER_CONFIG, else none)
  --example         print a configuration file with every setting at its default
  --docs            print the reference of every setting (config/README.md)
`,
  options: {
    check: { type: "boolean" },
    print: { type: "boolean" },
    example: { type: "boolean" },
    docs: { type: "boolean" },
    config: { type: "string" },
    ...settingOptions,
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) {
      throw new UsageError(`unexpected argument "${positionals[0]}"`);
    }
    const modes = ["check", "print", "example", "docs"].filter((m) => values[m] === true);
    if (modes.length !== 1) {
      throw new UsageError(
        modes.length === 0
          ? "choose one of --check, --print, --example, --docs"
          : `--${modes.join(" and --")} cannot be combined; choose one`,
      );
    }
    if (values.example) {
      io.out(exampleConfig());
      return 0;
    }
    if (values.docs) {
      io.out(configReadme());
      return 0;
    }
    const file = configFilePath(values.config as string | undefined);
    try {
      const config = loadConfig({
        file,
        env: process.env,
        args: settingArgs(values),
        warn: (m) => io.err(`ser-agent config: warning: ${m}\n`),
      });
      if (values.print) io.out(`${JSON.stringify(redacted(config), null, 2)}\n`);
      else
        io.out(`configuration ok (${file ? `file ${file}` : "no file"}, environment, arguments)\n`);
      return 0;
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.err(`ser-agent config: ${err.message}\n`);
      return err.exitCode;
    }
  },
};

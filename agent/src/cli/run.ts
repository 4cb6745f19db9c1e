import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import type { IClientOptions } from "mqtt";
import { type AudioSource, MicrophoneSource, StdinSource } from "../capture/index.js";
import {
  type AgentConfig,
  ConfigError,
  configFilePath,
  defaultModelDir,
  loadConfig,
  settingArgs,
} from "../config/index.js";
import { createLogger } from "../log/index.js";
import { Agent, describeSource } from "../runtime/agent.js";
import { EchoSubscriber } from "../runtime/echo.js";
import { PlaylistSource } from "../runtime/playlist.js";
import type { Logger } from "../runtime/types.js";
import { createNotifier, watchdogIntervalMs } from "../service/index.js";
import { type Command, type Io, UsageError } from "./command.js";
import { settingOptions } from "./config.js";
import { expandAudioPaths } from "./files.js";

/** How long after SIGTERM/SIGINT the process exits even if shutdown hangs. */
const SHUTDOWN_LIMIT_MS = 4800;

/**
 * The audio input: --input (files and directories, "-" for stdin, "mic" or "mic:<device>"),
 * else the configuration's input.source.
 */
async function openInput(
  inputs: string[],
  config: AgentConfig,
  logger: Logger,
  fastFlag: boolean,
): Promise<AudioSource> {
  const fromConfig =
    config.input.source === "file" ? [config.input.file] : [config.input.source as string];
  const given = inputs.length > 0 ? inputs : fromConfig;
  const special = given.filter((i) => i === "-" || i === "mic" || i.startsWith("mic:"));
  if (special.length > 0) {
    if (given.length > 1) {
      throw new UsageError(`--input ${special[0]} cannot be combined with other inputs`);
    }
    if (fastFlag) throw new UsageError("--fast applies to file input only");
    if (special[0] === "-") return new StdinSource(process.stdin, { logger });
    const device = special[0] === "mic" ? config.input.alsaDevice : special[0].slice(4);
    return new MicrophoneSource({ logger, device, periodMs: config.input.periodMs });
  }
  const files = await expandAudioPaths(given);
  if (files.length === 0) throw new UsageError(`no .wav, .flac or .mp3 files in ${given}`);
  for (const f of files) {
    const info = await stat(f).catch(() => undefined);
    if (!info?.isFile()) {
      throw new Error(`${f}: ${info ? "not a file" : "file not found"}; check the --input path`);
    }
  }
  return new PlaylistSource(files, {
    fast: config.input.fast,
    chunkMs: config.input.periodMs,
    logger,
  });
}

export const runCommand: Command = {
  name: "run",
  summary: "listen, recognise the emotion of each utterance and publish it over MQTT (the service)",
  usage: `Usage: ser-agent run [--config FILE] [--SETTING VALUE]...
                     [--input FILE|DIR...|-|mic|mic:DEVICE] [--fast] [--exit-at-end] [--echo]

The agent's main job, as the systemd service runs it: audio input, voice activity detection,
the model (the bundle in model.dir, checked and self-tested first) on each utterance, and one
emotion event per utterance on <mqtt.baseTopic>/<device.id>/emotion, with the last one retained
on .../state, availability on .../availability and health on .../status. Without mqtt.url it
runs its own broker on 127.0.0.1:<mqtt.embeddedPort> and logs its address.

Settings come from the defaults, the JSON file (--config FILE, else $SER_CONFIG), SER_*
environment variables, then --SETTING VALUE arguments (\`ser-agent config --docs\` lists them,
e.g. --model-dir DIR, --mqtt-url URL, --log-level debug). A wrong setting exits with 78.
Logs go to stderr; stdout carries only --echo's lines.

Options:
  --input FILE...     play these audio files (WAV, FLAC, MP3; directories are searched) one
                      after the other, with 1 s of silence between them; further arguments
                      after it are more files (so --input demo/*.flac works)
  --input -           raw S16_LE 16 kHz mono PCM on stdin
  --input mic[:DEV]   the microphone (default; DEV defaults to input.alsaDevice)
  --fast              play files as fast as they can be processed instead of in real time
  --exit-at-end       stop when the input ends (files, stdin), after the last event was delivered
  --echo              subscribe to the emotion topic through the broker and print each event
                      received: time, label, confidence, duration, file
  --config FILE       configuration file (JSON; default: $SER_CONFIG, else none)

Stops cleanly on SIGTERM or SIGINT: the current utterance is finished, queued events are
delivered, availability goes "offline"; exit status 0.
`,
  options: {
    config: { type: "string" },
    input: { type: "string", multiple: true },
    fast: { type: "boolean" },
    "exit-at-end": { type: "boolean" },
    echo: { type: "boolean" },
    ...settingOptions,
  },
  async run(values, positionals, io) {
    const inputs = [
      ...(Array.isArray(values.input) ? values.input.map(String) : []),
      ...positionals,
    ];
    let config: AgentConfig;
    try {
      config = loadConfig({
        file: configFilePath(values.config as string | undefined),
        env: process.env,
        args: settingArgs(values),
        warn: (m) => io.err(`ser-agent run: warning: ${m}\n`),
      });
    } catch (err) {
      if (!(err instanceof ConfigError)) throw err;
      io.err(`ser-agent run: ${err.message}\n`);
      return err.exitCode;
    }
    if (values.fast === true) config.input.fast = true;
    return runAgent(config, inputs, {
      fast: values.fast === true,
      exitAtEnd: values["exit-at-end"] === true,
      echo: values.echo === true,
      io,
    });
  },
};

/** The agent's own login and TLS files, for the --echo client. */
function echoLogin(config: AgentConfig, url: string): IClientOptions {
  const m = config.mqtt;
  const out: IClientOptions = {};
  if (m.username) out.username = m.username;
  if (m.password) out.password = m.password;
  if (/^(mqtts|tls|wss|ssl):/.test(url)) {
    if (m.ca) out.ca = readFileSync(m.ca);
    if (m.cert) out.cert = readFileSync(m.cert);
    if (m.key) out.key = readFileSync(m.key);
  }
  return out;
}

interface RunOptions {
  fast: boolean;
  exitAtEnd: boolean;
  echo: boolean;
  io: Io;
}

/** Runs the agent until a signal (or the end of the input with exitAtEnd); the exit status. */
async function runAgent(config: AgentConfig, inputs: string[], o: RunOptions): Promise<number> {
  const logger = createLogger({ level: config.log.level, format: config.log.format });
  const source = await openInput(inputs, config, logger, o.fast);
  const playlist = source instanceof PlaylistSource ? source : undefined;
  if (!(await stat(config.model.dir).catch(() => undefined))?.isDirectory()) {
    const implicit = config.model.dir === defaultModelDir();
    throw new Error(
      `no model bundle at ${config.model.dir}${implicit ? " (the default model.dir)" : ""}; set model.dir (--model-dir DIR or SER_MODEL_DIR) to a bundle directory (manifest.json and model.onnx, from \`ser-trainer export\`)`,
    );
  }
  const notifier = createNotifier({ logger });
  const watchdogMs = config.service.watchdog ? watchdogIntervalMs() : undefined;
  const agent = new Agent({
    config,
    source,
    logger,
    notifier,
    watchdogMs,
    // A demo on a machine that already runs a broker on the default port still works.
    broker: { anyPortIfBusy: playlist !== undefined },
  });

  let signalled: NodeJS.Signals | undefined;
  let onSignal!: (s: NodeJS.Signals) => void;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    onSignal = (s) => {
      if (signalled) {
        logger.warn("second signal during shutdown: exiting now", { signal: s });
        process.exit(0);
      }
      signalled = s;
      logger.info("signal received: stopping", { signal: s });
      const failsafe = setTimeout(() => {
        logger.error("shutdown did not finish in time: exiting anyway", {
          limit_ms: SHUTDOWN_LIMIT_MS,
        });
        process.exit(0);
      }, SHUTDOWN_LIMIT_MS);
      failsafe.unref();
      resolve(s);
    };
  });
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);

  let echo: EchoSubscriber | undefined;
  let code = 0;
  try {
    await Promise.race([agent.prepare(), signal]);
    if (!signalled && o.echo) {
      const model = agent.model;
      const url = agent.brokerUrl as string;
      echo = await EchoSubscriber.connect({
        url,
        topic: agent.topics.emotion,
        labels: model?.labels ?? [],
        clientOptions: echoLogin(config, url),
        out: o.io.out,
        sourceOf: playlist
          ? (e) => playlist.fileFor(Date.parse(e.start), Date.parse(e.end))
          : undefined,
      });
      o.io.out(`# ${describeSource(source)} -> ${url} ${agent.topics.emotion}\n`);
    }
    if (!signalled) await Promise.race([agent.start(), signal]);
    while (!signalled) {
      const reason = await Promise.race([agent.ended, signal.then(() => undefined)]);
      if (reason === undefined) break;
      if (reason === "error" || reason === "gave-up") {
        code = 1;
        break;
      }
      if (o.exitAtEnd) {
        // Everything classified and delivered, and (with --echo) received back, then stop.
        await agent.settle(10_000);
        await echo?.waitFor(agent.eventCount, 3000);
        break;
      }
      // The input is over but the service goes on (its broker too) until it is stopped.
      await signal;
    }
  } finally {
    await agent.stop();
    await echo?.close().catch(() => {});
    process.off("SIGTERM", onSignal);
    process.off("SIGINT", onSignal);
  }
  return code;
}

import type { Logger } from "../runtime/types.js";
import { flattenForLogfmt, logfmtKey, logfmtValue, type Plain, toPlain } from "./serialize.js";

export const LOG_LEVELS = ["debug", "info", "warn", "error"] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** json: one JSON object per line (journald, Loki, jq); logfmt: `key=value` pairs per line. */
export const LOG_FORMATS = ["json", "logfmt"] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/** Where lines go: anything with write(string), such as process.stderr or a test's collector. */
export interface LogSink {
  write(text: string): unknown;
}

export interface LoggerOptions {
  /** Lines below this level are dropped (default "info"). */
  level?: LogLevel;
  /** Default "json". */
  format?: LogFormat;
  /** Default process.stderr: stdout stays free for command output. */
  stream?: LogSink;
  /** Clock for the `ts` field (tests). */
  now?: () => Date;
  /** Fields added to every line, e.g. `{ device: "kitchen-pi" }`. */
  fields?: Record<string, unknown>;
}

/** The runtime's Logger, plus what the agent needs to configure and scope it. */
export interface AgentLogger extends Logger {
  readonly level: LogLevel;
  readonly format: LogFormat;
  /** Whether a line at `level` would be written (to skip building costly fields). */
  enabled(level: LogLevel): boolean;
  /** A logger that adds `fields` to every line (a component name, an utterance id). */
  child(fields: Record<string, unknown>): AgentLogger;
}

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };
/** Every line starts with these; a field of the same name is written as `_<name>`. */
const RESERVED = new Set(["ts", "level", "msg"]);

function render(
  format: LogFormat,
  ts: string,
  level: LogLevel,
  msg: string,
  fields: Record<string, unknown>,
): string {
  const plain = toPlain(fields) as { [key: string]: Plain };
  const head: { [key: string]: Plain } = { ts, level, msg: toPlain(msg) };
  for (const [k, v] of Object.entries(plain)) head[RESERVED.has(k) ? `_${k}` : k] = v;
  if (format === "json") return `${JSON.stringify(head)}\n`;
  const pairs = flattenForLogfmt(head).map(([k, v]) => `${logfmtKey(k)}=${logfmtValue(v)}`);
  return `${pairs.join(" ")}\n`;
}

class LineLogger implements AgentLogger {
  constructor(
    readonly level: LogLevel,
    readonly format: LogFormat,
    private readonly stream: LogSink,
    private readonly now: () => Date,
    private readonly base: Record<string, unknown>,
  ) {}

  enabled(level: LogLevel): boolean {
    return RANK[level] >= RANK[this.level];
  }

  child(fields: Record<string, unknown>): AgentLogger {
    return new LineLogger(this.level, this.format, this.stream, this.now, {
      ...this.base,
      ...fields,
    });
  }

  private write(level: LogLevel, msg: string, fields?: Record<string, unknown>): void {
    if (!this.enabled(level)) return;
    const line = render(this.format, this.now().toISOString(), level, msg, {
      ...this.base,
      ...fields,
    });
    try {
      this.stream.write(line);
    } catch {
      // A closed stderr must not take the agent down; there is nowhere left to report it.
    }
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.write("debug", msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.write("info", msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.write("warn", msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.write("error", msg, fields);
  }
}

/**
 * A logger writing one line per call: `{"ts","level","msg",...fields}` as JSON, or the same as
 * logfmt (`ts=... level=info msg="..." key=value`, nested fields as dotted keys). Timestamps are
 * ISO 8601 UTC with milliseconds. Field values pass through `toPlain`: Errors become
 * name/message/code/stack, and sample buffers, typed arrays and long numeric arrays are replaced
 * by their length, so raw audio can never be logged by accident.
 */
export function createLogger(options: LoggerOptions = {}): AgentLogger {
  const level = options.level ?? "info";
  const format = options.format ?? "json";
  if (!LOG_LEVELS.includes(level)) {
    throw new Error(`log level must be one of ${LOG_LEVELS.join(", ")}, got "${level}"`);
  }
  if (!LOG_FORMATS.includes(format)) {
    throw new Error(`log format must be one of ${LOG_FORMATS.join(", ")}, got "${format}"`);
  }
  return new LineLogger(
    level,
    format,
    options.stream ?? process.stderr,
    options.now ?? (() => new Date()),
    options.fields ?? {},
  );
}

/** A Logger that drops everything (tests, library defaults). */
export const silentLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
};

/** Structured logging for the agent: JSON lines or logfmt, levels, and never any audio. */

export {
  type AgentLogger,
  createLogger,
  LOG_FORMATS,
  LOG_LEVELS,
  type LogFormat,
  type LoggerOptions,
  type LogLevel,
  type LogSink,
  silentLogger,
} from "./logger.js";
export { MAX_ARRAY_ITEMS, MAX_STRING_CHARS, toPlain } from "./serialize.js";

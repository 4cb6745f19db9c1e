/** Machine-readable reasons the MQTT side could not be configured or used. */
export type MqttErrorCode =
  /** A base topic or device id that cannot be used in a topic. */
  | "invalid-topic"
  /** An option out of range or inconsistent with another one (url, limits, tls). */
  | "invalid-option"
  /** A TLS file (ca, cert, key) that cannot be read. */
  | "tls-file"
  /** Another running process (or instance) holds the outbox directory. */
  | "outbox-locked"
  /** The outbox directory or file cannot be created, read or written. */
  | "outbox-io"
  /** One message is larger than the whole outbox may hold. */
  | "message-too-large"
  /** The publisher or the outbox was used after close(). */
  | "closed"
  /** The embedded broker could not listen. */
  | "broker-listen";

/**
 * Error for an unusable MQTT configuration or outbox. The message starts with what it is about
 * (a topic, a path, an option) and says what is wrong and what to do, so it can be printed as is.
 */
export class MqttError extends Error {
  override readonly name = "MqttError";

  constructor(
    readonly code: MqttErrorCode,
    readonly subject: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${subject}: ${problem}`, options);
  }
}

export function isMqttError(err: unknown): err is MqttError {
  return err instanceof MqttError;
}

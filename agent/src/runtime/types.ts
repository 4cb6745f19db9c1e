/**
 * Types shared by the agent runtime's parts (audio input, voice activity, inference, MQTT,
 * configuration, service integration), so that each can be built and tested alone.
 */

/** Structured logging: a message plus fields; the sink decides the format (JSON lines, logfmt). */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

/** One classified utterance, as published on `<base>/<device_id>/emotion`. */
export interface EmotionEvent {
  device: string;
  /** ISO 8601 times of the utterance's first and last sample. */
  start: string;
  end: string;
  duration_ms: number;
  /** The winning label, or "unknown" below the configured confidence threshold. */
  label: string;
  confidence: number;
  /** Probability of every label of the model. */
  scores: Record<string, number>;
  model: { name: string; version: string };
  /** Set when a long utterance was cut into overlapping windows: which window this is. */
  window?: { index: number; of?: number };
  /**
   * Number of this event among those the agent process produced, from 1 (it restarts with the
   * process): a gap shows events lost (e.g. outbox overflow), a repeat shows a QoS 1 redelivery.
   */
  seq?: number;
}

/** Health figures, as published on `<base>/<device_id>/status` every N seconds. */
export interface AgentStatus {
  device: string;
  uptime_s: number;
  cpu_percent: number;
  rss_mb: number;
  utterances: number;
  dropped: number;
  queue_depth: number;
  model_version: string;
  reconnects: number;
  /** The device's fleet (config device.fleet), when it has one: how `fleet status` groups. */
  fleet?: string;
}

import type { AgentStatus, EmotionEvent } from "../runtime/types.js";

/**
 * Wire formats of what the device publishes. Each copies the contract's fields one by one, so
 * nothing else that happens to ride on the object (samples, features, internal state) is ever
 * sent: only these typed payloads leave the device.
 */

export function emotionPayload(event: EmotionEvent): EmotionEvent {
  const scores: Record<string, number> = {};
  for (const [label, p] of Object.entries(event.scores)) scores[label] = Number(p);
  const out: EmotionEvent = {
    device: String(event.device),
    start: String(event.start),
    end: String(event.end),
    duration_ms: Number(event.duration_ms),
    label: String(event.label),
    confidence: Number(event.confidence),
    scores,
    model: { name: String(event.model.name), version: String(event.model.version) },
  };
  if (event.window) {
    out.window =
      event.window.of === undefined
        ? { index: Number(event.window.index) }
        : { index: Number(event.window.index), of: Number(event.window.of) };
  }
  if (event.seq !== undefined) out.seq = Number(event.seq);
  return out;
}

export function statusPayload(status: AgentStatus): AgentStatus {
  const out: AgentStatus = {
    device: String(status.device),
    uptime_s: Number(status.uptime_s),
    cpu_percent: Number(status.cpu_percent),
    rss_mb: Number(status.rss_mb),
    utterances: Number(status.utterances),
    dropped: Number(status.dropped),
    queue_depth: Number(status.queue_depth),
    model_version: String(status.model_version),
    reconnects: Number(status.reconnects),
  };
  if (status.fleet) out.fleet = String(status.fleet);
  return out;
}

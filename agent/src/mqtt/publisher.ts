import { readFileSync } from "node:fs";
import { connect, type IClientOptions, type MqttClient } from "mqtt";
import type { AgentStatus, EmotionEvent, Logger } from "../runtime/types.js";
import {
  DEFAULT_DISCOVERY_PREFIX,
  type DiscoveryMessage,
  type DiscoveryMode,
  discoveryMessages,
  haStatusTopic,
  type ModelInfo,
  PAYLOAD_AVAILABLE,
  PAYLOAD_NOT_AVAILABLE,
} from "./discovery.js";
import { MqttError } from "./errors.js";
import { type OutboundMessage, Outbox, type OutboxLimits } from "./outbox.js";
import { emotionPayload, statusPayload } from "./payloads.js";
import { buildTopics, DEFAULT_BASE_TOPIC, type Topics } from "./topics.js";

/** TLS material as file paths (read once, when the publisher is created). */
export interface TlsFiles {
  /** CA certificate(s) to trust for the broker (PEM). */
  ca?: string;
  /** Client certificate and key (PEM), for brokers that authenticate clients by certificate. */
  cert?: string;
  key?: string;
  /** Default true; false accepts any broker certificate (testing only). */
  rejectUnauthorized?: boolean;
}

export interface MqttPublisherOptions {
  /** mqtt://host:1883, mqtts://host:8883, ws://, wss:// */
  url: string;
  /** Default "ser-edge-<deviceId>"; must be unique on the broker. */
  clientId?: string;
  username?: string;
  password?: string;
  tls?: TlsFiles;
  /** Topic prefix; default "ser-edge". */
  base?: string;
  deviceId: string;
  /** Shown in Home Assistant; default "ser-edge <deviceId>". */
  deviceName?: string;
  /** Name, version and labels of the loaded model (from its manifest). */
  model: ModelInfo;
  /** Agent version for Home Assistant's device registry; default: @ser-edge/agent's version. */
  swVersion?: string;
  /** Home Assistant discovery; false turns it off. Default: device-based, prefix "homeassistant". */
  discovery?: false | { prefix?: string; mode?: DiscoveryMode };
  /** Directory of the persistent outbox (one publisher per directory). */
  outboxDir: string;
  outbox?: OutboxLimits & { fsync?: boolean };
  /** MQTT keepalive in seconds (default 30): how soon the broker notices a dead device. */
  keepaliveS?: number;
  /** Pause between reconnection attempts (default 5000 ms). */
  reconnectPeriodMs?: number;
  /** How long to wait for the broker's CONNACK (default 10 000 ms). */
  connectTimeoutMs?: number;
  /** Messages sent and not yet acknowledged at any time (default 16). */
  maxInflight?: number;
  /** Publish `getStatus()` every this many seconds while connected (and on connect); 0 = never. */
  statusIntervalS?: number;
  getStatus?: () => AgentStatus;
  /** How long close() may take to deliver what is queued and say `offline` (default 5000 ms). */
  closeTimeoutMs?: number;
  logger: Logger;
}

/** Receives a message on a subscribed topic; `retained` is true for the broker's stored copy. */
export type MessageHandler = (topic: string, payload: Buffer, retained: boolean) => void;

export interface PublisherStats {
  connected: boolean;
  /** Successful connections, the first one included. */
  connects: number;
  /** Successful connections after the first (the AgentStatus figure). */
  reconnects: number;
  /** Messages this instance put into the outbox. */
  queued: number;
  /** Messages waiting in the outbox now (sent-but-unacknowledged ones included). */
  depth: number;
  /** Messages the broker acknowledged. */
  delivered: number;
  /** Messages the full outbox dropped (the oldest go first). */
  dropped: number;
  /** Messages the outbox could not store (disk error): sent directly if connected, else lost. */
  unqueued: number;
  /** Messages sent and awaiting their acknowledgement. */
  inflight: number;
}

const PROTOCOLS = new Set(["mqtt:", "mqtts:", "tcp:", "ssl:", "tls:", "ws:", "wss:"]);
const TLS_PROTOCOLS = new Set(["mqtts:", "ssl:", "tls:", "wss:"]);

function agentVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8"));
    return typeof pkg.version === "string" ? pkg.version : "0.0.0";
  } catch {
    return "0.0.0";
  }
}

function checkUrl(url: string, tls: TlsFiles | undefined): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new MqttError(
      "invalid-option",
      `MQTT url ${JSON.stringify(url)}`,
      "is not a URL; write it as mqtt://host:1883 or mqtts://host:8883",
    );
  }
  if (!PROTOCOLS.has(parsed.protocol)) {
    throw new MqttError(
      "invalid-option",
      `MQTT url ${JSON.stringify(url)}`,
      `has the unsupported scheme "${parsed.protocol}"; use mqtt://, mqtts://, ws:// or wss://`,
    );
  }
  if (tls && (tls.ca || tls.cert || tls.key) && !TLS_PROTOCOLS.has(parsed.protocol)) {
    throw new MqttError(
      "invalid-option",
      `MQTT url ${JSON.stringify(url)}`,
      "TLS files are configured but the url is not a TLS one; use mqtts:// (or wss://)",
    );
  }
}

/** TLS files to MQTT.js options (read now); throws MqttError naming an unreadable file. */
export function readTls(tls: TlsFiles | undefined): Partial<IClientOptions> {
  if (!tls) return {};
  const read = (what: string, path: string | undefined): Buffer | undefined => {
    if (path === undefined) return undefined;
    try {
      return readFileSync(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      throw new MqttError(
        "tls-file",
        path,
        `the MQTT TLS ${what} cannot be read (${code}); check the path and its permissions`,
        { cause: err },
      );
    }
  };
  if ((tls.cert === undefined) !== (tls.key === undefined)) {
    throw new MqttError(
      "invalid-option",
      "MQTT tls",
      "a client certificate needs both cert and key; set both or neither",
    );
  }
  const out: Partial<IClientOptions> = {};
  const ca = read("CA certificate", tls.ca);
  const cert = read("client certificate", tls.cert);
  const key = read("client key", tls.key);
  if (ca) out.ca = ca;
  if (cert) out.cert = cert;
  if (key) out.key = key;
  if (tls.rejectUnauthorized !== undefined) out.rejectUnauthorized = tls.rejectUnauthorized;
  return out;
}

function nonNegative(name: string, v: number | undefined, fallback: number): number {
  const value = v ?? fallback;
  if (!Number.isFinite(value) || value < 0) {
    throw new MqttError("invalid-option", `MQTT ${name} ${String(v)}`, "must be 0 or more");
  }
  return value;
}

function positiveMs(name: string, v: number | undefined, fallback: number): number {
  const value = v ?? fallback;
  if (!Number.isFinite(value) || value < 10) {
    throw new MqttError(
      "invalid-option",
      `MQTT ${name} ${String(v)}`,
      "must be at least 10 ms (0 would never reconnect after the broker goes away)",
    );
  }
  return value;
}

/** Auth refusals, by CONNACK return code (MQTT 3.1.1) or reason code (MQTT 5). */
const AUTH_CODES = new Set([4, 5, 134, 135]);

/**
 * Publishes the agent's emotions, state and health to an MQTT broker, for Home Assistant and
 * Node-RED. Everything goes through a persistent outbox first and leaves it, in order, only when
 * the broker acknowledged it, so a broker outage or an agent restart loses nothing (up to the
 * outbox's bounds, where the oldest is dropped).
 *
 * On every connection: availability `online` (retained; the Last Will says `offline`), Home
 * Assistant discovery, a subscription to Home Assistant's status topic (discovery is announced
 * again when Home Assistant comes back `online`), then the outbox. Sessions are clean; the
 * subscription is renewed on every connection, so a broker restart that lost all state is fine.
 */
export class MqttPublisher {
  readonly topics: Topics;
  readonly clientId: string;
  private readonly opts: MqttPublisherOptions;
  private readonly outbox: Outbox;
  private readonly logger: Logger;
  private discovery: DiscoveryMessage[];
  private readonly swVersion: string;
  /** Topic → handler of the subscriptions renewed on every connection. */
  private readonly subscriptions = new Map<string, MessageHandler>();
  private readonly haStatus: string | undefined;
  private readonly clientOptions: IClientOptions;
  private readonly maxInflight: number;
  private client: MqttClient | undefined;
  /** Highest seq handed to the client; the next send is the first unsettled one after it. */
  private cursor = -1;
  private readonly inflight = new Set<number>();
  private online = false;
  private closing = false;
  private errorStreak = 0;
  private statusTimer: NodeJS.Timeout | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private drainWaiters: (() => void)[] = [];
  private counts = { connects: 0, queued: 0, unqueued: 0 };
  private diskErrors = 0;

  constructor(opts: MqttPublisherOptions) {
    this.opts = opts;
    this.logger = opts.logger;
    this.topics = buildTopics({ base: opts.base ?? DEFAULT_BASE_TOPIC, deviceId: opts.deviceId });
    this.clientId = opts.clientId ?? `ser-edge-${opts.deviceId}`;
    checkUrl(opts.url, opts.tls);
    this.maxInflight = Math.max(1, Math.floor(nonNegative("maxInflight", opts.maxInflight, 16)));
    this.swVersion = opts.swVersion ?? agentVersion();
    this.discovery = this.discoveryFor(opts.model);
    if (opts.discovery !== false) {
      this.haStatus = haStatusTopic(opts.discovery?.prefix ?? DEFAULT_DISCOVERY_PREFIX);
    }
    this.clientOptions = {
      clientId: this.clientId,
      protocolVersion: 4,
      clean: true,
      // Subscriptions are renewed explicitly on every connect.
      resubscribe: false,
      keepalive: nonNegative("keepaliveS", opts.keepaliveS, 30),
      reconnectPeriod: positiveMs("reconnectPeriodMs", opts.reconnectPeriodMs, 5000),
      connectTimeout: nonNegative("connectTimeoutMs", opts.connectTimeoutMs, 10_000),
      // A refused login (e.g. while the broker's password file is being changed) is retried.
      reconnectOnConnackError: true,
      queueQoSZero: false,
      // mqtt-packet otherwise pre-builds 65,536 two-byte Buffers for packet ids and lengths
      // (6 MiB of heap, for the process's life; the embedded broker shares the module).
      writeCache: false,
      will: {
        topic: this.topics.availability,
        payload: Buffer.from(PAYLOAD_NOT_AVAILABLE),
        qos: 1,
        retain: true,
      },
      ...readTls(opts.tls),
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: opts.password } : {}),
    };
    // Last: the outbox takes a lock, which a failed constructor would leave behind.
    this.outbox = Outbox.open({
      dir: opts.outboxDir,
      logger: opts.logger,
      ...opts.outbox,
    });
  }

  get connected(): boolean {
    return this.online;
  }

  stats(): PublisherStats {
    const o = this.outbox.stats();
    return {
      connected: this.online,
      connects: this.counts.connects,
      reconnects: Math.max(0, this.counts.connects - 1),
      queued: this.counts.queued,
      depth: o.depth,
      delivered: o.delivered,
      dropped: o.dropped,
      unqueued: this.counts.unqueued,
      inflight: this.inflight.size,
    };
  }

  /** Starts connecting (in the background; it retries until close()). */
  start(): void {
    if (this.closing) throw this.closedError();
    if (this.client) return;
    this.logger.info("mqtt connecting", {
      url: redact(this.opts.url),
      clientId: this.clientId,
      queued: this.outbox.depth,
    });
    const client = connect(this.opts.url, this.clientOptions);
    this.client = client;
    client.on("connect", () => this.onConnect(client));
    client.on("close", () => this.onClose());
    client.on("error", (err) => this.onError(err));
    client.on("message", (topic, payload, packet) => this.onMessage(topic, payload, packet.retain));
    const every = nonNegative("statusIntervalS", this.opts.statusIntervalS, 0);
    if (every > 0 && this.opts.getStatus) {
      this.statusTimer = setInterval(() => {
        if (this.online) this.publishCurrentStatus();
      }, every * 1000);
      this.statusTimer.unref();
    }
  }

  /**
   * Queues an utterance's emotion (QoS 1) and the retained last-emotion state (QoS 1). Returns
   * false if the outbox could not store them (disk error, logged); they were then sent directly
   * if connected. Throws only after close().
   */
  publishEmotion(event: EmotionEvent): boolean {
    const payload = JSON.stringify(emotionPayload(event));
    // One append (one fdatasync) for both.
    const ok = this.enqueue([
      { topic: this.topics.emotion, payload, qos: 1, retain: false },
      { topic: this.topics.state, payload, qos: 1, retain: true },
    ]);
    this.pump();
    return ok;
  }

  /**
   * Queues a retained QoS 1 message on any topic (e.g. a rollout outcome), kept in the outbox
   * until delivered; returns and throws as publishEmotion.
   */
  publishRetained(topic: string, payload: string): boolean {
    const ok = this.enqueue([{ topic, payload, qos: 1, retain: true }]);
    this.pump();
    return ok;
  }

  /**
   * Subscribes (QoS 1) now if connected and again on every connection, so that retained
   * messages published while the device was offline arrive when it returns.
   */
  subscribe(topic: string, handler: MessageHandler): void {
    this.subscriptions.set(topic, handler);
    if (this.client && this.online) this.subscribeOne(this.client, topic);
  }

  /** The model changed (a rollout): discovery names its labels and version, so restate it. */
  setModel(model: ModelInfo): void {
    this.discovery = this.discoveryFor(model);
    if (this.online) this.announce();
  }

  /** Queues health figures (QoS 1, retained); returns and throws as publishEmotion. */
  publishStatus(status: AgentStatus): boolean {
    const ok = this.enqueue([
      {
        topic: this.topics.status,
        payload: JSON.stringify(statusPayload(status)),
        qos: 1,
        retain: true,
      },
    ]);
    this.pump();
    return ok;
  }

  /** Resolves true once the outbox is empty, false if `timeoutMs` passes first. */
  flush(timeoutMs: number): Promise<boolean> {
    if (this.outbox.closed) return Promise.resolve(this.outbox.depth === 0);
    if (this.outbox.depth === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        resolve(true);
      };
      const timer = setTimeout(() => {
        this.drainWaiters = this.drainWaiters.filter((w) => w !== done);
        resolve(false);
      }, timeoutMs);
      this.drainWaiters.push(done);
    });
  }

  /**
   * Stops: delivers what it can within `timeoutMs`, publishes `offline` (retained), disconnects
   * cleanly. What could not be delivered stays in the outbox for the next start.
   */
  async close(timeoutMs: number = this.opts.closeTimeoutMs ?? 5000): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    this.stopTimer();
    const deadline = Date.now() + timeoutMs;
    const left = () => Math.max(0, deadline - Date.now());
    const client = this.client;
    let clean = false;
    if (client && this.online) {
      const flushed = await this.flush(left());
      const offline = await this.sendDirect(
        { topic: this.topics.availability, payload: PAYLOAD_NOT_AVAILABLE, qos: 1, retain: true },
        left(),
      );
      clean = flushed && offline && Object.keys(client.outgoing).length === 0;
      if (!flushed) {
        this.logger.warn("mqtt close: not everything was delivered in time; kept for next start", {
          depth: this.outbox.depth,
        });
      }
    }
    if (client) {
      if (clean) {
        this.online = false;
        const ended = await withTimeout(
          client.endAsync(false).then(() => true),
          Math.max(left(), 200),
        );
        if (!ended) client.end(true);
      } else {
        // Nothing more can be sent: drop the connection (the broker publishes the Last Will).
        client.end(true);
      }
    }
    this.online = false;
    const depth = this.outbox.depth;
    this.outbox.close();
    this.logger.info("mqtt closed", { clean, undelivered: depth, ...this.countsForLog() });
  }

  /**
   * Stops at once, as a crash would: no DISCONNECT (the broker publishes the Last Will
   * `offline`), nothing more is sent; queued messages stay in the outbox.
   */
  abort(): void {
    if (this.closing) return;
    this.closing = true;
    this.stopTimer();
    this.client?.end(true);
    this.online = false;
    this.outbox.close();
    this.logger.warn("mqtt aborted", this.countsForLog());
  }

  // --- internals ---

  private enqueue(messages: OutboundMessage[]): boolean {
    if (this.closing) throw this.closedError();
    try {
      this.outbox.appendAll(messages);
      this.counts.queued += messages.length;
      this.diskErrors = 0;
      return true;
    } catch (err) {
      // A full or failing disk must not stop the agent: degrade to sending without a safety net.
      if (!(err instanceof MqttError)) throw err;
      this.counts.unqueued += messages.length;
      this.diskErrors += 1;
      if (this.diskErrors === 1 || err.code === "message-too-large") {
        this.logger.error("mqtt outbox cannot store a message; sending it without a safety net", {
          error: err.message,
          topic: messages[0]?.topic,
          connected: this.online,
        });
      }
      for (const m of messages) void this.sendDirect(m);
      return false;
    }
  }

  /** Hands the next outbox messages to the client, at most maxInflight unacknowledged. */
  private pump(): void {
    const client = this.client;
    if (!client || !this.online || client.disconnecting || this.outbox.closed) return;
    while (this.inflight.size < this.maxInflight) {
      const msg = this.outbox.nextAfter(this.cursor);
      if (!msg) break;
      this.cursor = msg.seq;
      if (this.inflight.has(msg.seq)) continue;
      this.inflight.add(msg.seq);
      const { seq } = msg;
      // QoS 1/2: the callback fires on the broker's acknowledgement. MQTT.js keeps unacknowledged
      // messages across reconnections and sends them again (DUP) before anything new, so the
      // order holds; if it gives one up (error), it is sent again from the outbox.
      client.publish(msg.topic, msg.payload, { qos: msg.qos, retain: msg.retain }, (err) => {
        this.inflight.delete(seq);
        if (this.outbox.closed) return;
        if (err) {
          this.logger.debug("mqtt publish not acknowledged; will resend", {
            seq,
            error: err.message,
          });
          this.cursor = Math.min(this.cursor, seq - 1);
          this.retryLater();
          return;
        }
        const removed = this.outbox.settle(seq);
        if (removed > 0 && this.outbox.depth === 0) this.drained();
        this.pump();
      });
    }
  }

  /** After a refused send, try again a little later (not at once: the error may repeat). */
  private retryLater(): void {
    if (this.retryTimer || this.closing) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.pump();
    }, 1000);
    this.retryTimer.unref();
  }

  private drained(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private onConnect(client: MqttClient): void {
    if (this.closing) return;
    this.online = true;
    this.counts.connects += 1;
    this.errorStreak = 0;
    this.logger.info(this.counts.connects > 1 ? "mqtt reconnected" : "mqtt connected", {
      url: redact(this.opts.url),
      queued: this.outbox.depth,
      reconnects: this.counts.connects - 1,
    });
    this.sendDirect({
      topic: this.topics.availability,
      payload: PAYLOAD_AVAILABLE,
      qos: 1,
      retain: true,
    });
    this.announce();
    if (this.haStatus) this.subscribeOne(client, this.haStatus);
    for (const topic of this.subscriptions.keys()) this.subscribeOne(client, topic);
    if (this.opts.getStatus && (this.opts.statusIntervalS ?? 0) > 0) this.publishCurrentStatus();
    // Messages sent before an error callback (not a lost connection) start over from the outbox.
    this.pump();
  }

  private onClose(): void {
    if (this.online) {
      this.logger.warn("mqtt connection lost; queueing until the broker is back", {
        inflight: this.inflight.size,
        queued: this.outbox.depth,
      });
    }
    this.online = false;
  }

  private onError(err: Error & { code?: unknown }): void {
    if (this.closing) return;
    this.errorStreak += 1;
    const code = typeof err.code === "number" ? err.code : undefined;
    if (code !== undefined && AUTH_CODES.has(code)) {
      if (this.errorStreak === 1) {
        this.logger.error(
          "mqtt broker refused the login; check the MQTT username and password (or the client certificate)",
          { error: err.message, code, url: redact(this.opts.url) },
        );
      }
      return;
    }
    // One warning per outage; the retries that follow are debug noise.
    const log = this.errorStreak === 1 ? this.logger.warn : this.logger.debug;
    log.call(this.logger, "mqtt connection error; retrying", {
      error: err.message,
      code: err.code,
      url: redact(this.opts.url),
      retryMs: this.clientOptions.reconnectPeriod,
    });
  }

  private subscribeOne(client: MqttClient, topic: string): void {
    client.subscribe(topic, { qos: 1 }, (err) => {
      if (this.closing) return;
      if (err) this.logger.warn("mqtt subscribe failed", { topic, error: err.message });
      else this.logger.debug("mqtt subscribed", { topic });
    });
  }

  private discoveryFor(model: ModelInfo): DiscoveryMessage[] {
    const d = this.opts.discovery;
    if (d === false) return [];
    return discoveryMessages(
      {
        topics: this.topics,
        deviceId: this.opts.deviceId,
        model,
        swVersion: this.swVersion,
        prefix: d?.prefix ?? DEFAULT_DISCOVERY_PREFIX,
        ...(this.opts.deviceName ? { deviceName: this.opts.deviceName } : {}),
      },
      d?.mode ?? "device",
    );
  }

  private onMessage(topic: string, payload: Buffer, retained: boolean): void {
    if (this.closing) return;
    const handler = this.subscriptions.get(topic);
    if (handler) {
      try {
        handler(topic, payload, retained);
      } catch (err) {
        this.logger.error("mqtt message handler failed", { topic, error: err });
      }
      return;
    }
    if (topic !== this.haStatus) return;
    // A retained "online" comes with every subscription; discovery was just sent on connect.
    if (retained) return;
    const text = payload.toString("utf8").trim();
    if (text === "online") {
      this.logger.info("home assistant is online; announcing discovery again");
      this.announce();
    }
  }

  private announce(): void {
    for (const m of this.discovery) this.sendDirect(m);
  }

  private publishCurrentStatus(): void {
    const get = this.opts.getStatus;
    if (!get || this.closing) return;
    try {
      this.publishStatus(get());
    } catch (err) {
      this.logger.warn("mqtt status not published", { error: (err as Error).message });
    }
  }

  /**
   * Connection-scoped messages (availability, discovery) bypass the outbox: they are restated on
   * every connection, so there is nothing to keep. Resolves whether the broker acknowledged it.
   */
  private sendDirect(m: OutboundMessage, timeoutMs?: number): Promise<boolean> {
    const client = this.client;
    if (!client || !this.online) return Promise.resolve(false);
    const acked = new Promise<boolean>((resolve) => {
      client.publish(m.topic, m.payload, { qos: m.qos, retain: m.retain }, (err) => {
        if (err && !this.closing) {
          this.logger.debug("mqtt publish failed", { topic: m.topic, error: err.message });
        }
        resolve(!err);
      });
    });
    return timeoutMs === undefined ? acked : withTimeout(acked, timeoutMs).then((v) => v === true);
  }

  private stopTimer(): void {
    if (this.statusTimer) clearInterval(this.statusTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.statusTimer = undefined;
    this.retryTimer = undefined;
  }

  private countsForLog(): Record<string, number> {
    const { connects, reconnects, queued, delivered, dropped } = this.stats();
    return { connects, reconnects, queued, delivered, dropped };
  }

  private closedError(): MqttError {
    return new MqttError(
      "closed",
      `MQTT publisher ${this.clientId}`,
      "is closed; create a new one to publish again",
    );
  }
}

/** Resolves the promise's value, or undefined if `ms` passes first. */
function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      () => {
        clearTimeout(timer);
        resolve(undefined);
      },
    );
  });
}

/** The url without credentials, for logs. */
function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = "***";
    return u.toString();
  } catch {
    return url;
  }
}

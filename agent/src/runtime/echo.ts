import { connectAsync, type IClientOptions, type MqttClient } from "mqtt";
import { UNKNOWN_LABEL } from "../mqtt/index.js";
import type { EmotionEvent } from "./types.js";

/**
 * `ser-agent run --echo`: a separate MQTT client that subscribes to the agent's own emotion topic
 * and prints every event it receives as one line, so what is printed has gone through the broker
 * exactly as a Home Assistant or Node-RED subscriber gets it.
 */

export interface EchoOptions {
  url: string;
  topic: string;
  /** Receives each line (with its newline). */
  out: (text: string) => void;
  /** The model's labels, to align the label column. */
  labels: readonly string[];
  /** Names the audio an event came from (a file of the playlist), if known. */
  sourceOf?: (event: EmotionEvent) => string | undefined;
  clientId?: string;
  /** Login and TLS, as the agent's own connection uses them. */
  clientOptions?: IClientOptions;
}

const pad2 = (n: number) => String(n).padStart(2, "0");

/** Local wall-clock time with milliseconds: "12:01:03.120". */
export function clockTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, "0")}`;
}

/** `12:01:03.120  angry     0.93  (1.84 s)  demo/03-01-05-02-02-01-19.flac` */
export function formatEvent(event: EmotionEvent, labelWidth: number, source?: string): string {
  const parts = [
    clockTime(event.start),
    event.label.padEnd(labelWidth),
    event.confidence.toFixed(2),
    `(${(event.duration_ms / 1000).toFixed(2)} s)`,
  ];
  if (event.window) {
    const w = event.window;
    parts.push(`[window ${w.index + 1}${w.of !== undefined ? `/${w.of}` : ""}]`);
  }
  if (source) parts.push(source);
  return parts.join("  ");
}

export class EchoSubscriber {
  private count = 0;
  private waiters: { count: number; resolve: () => void }[] = [];
  private readonly labelWidth: number;

  private constructor(
    private readonly client: MqttClient,
    private readonly opts: EchoOptions,
  ) {
    this.labelWidth = Math.max(UNKNOWN_LABEL.length, ...opts.labels.map((l) => l.length));
    client.on("message", (topic, payload) => {
      if (topic !== opts.topic) return;
      this.print(payload.toString("utf8"));
    });
  }

  /** Connects and subscribes (QoS 1); resolves once the broker confirmed the subscription. */
  static async connect(opts: EchoOptions): Promise<EchoSubscriber> {
    const client = await connectAsync(opts.url, {
      ...opts.clientOptions,
      clientId: opts.clientId ?? `ser-agent-echo-${process.pid}`,
      clean: true,
      reconnectPeriod: 1000,
      connectTimeout: 5000,
    });
    const echo = new EchoSubscriber(client, opts);
    await client.subscribeAsync(opts.topic, { qos: 1 });
    return echo;
  }

  /** Events printed so far. */
  get received(): number {
    return this.count;
  }

  /** Resolves true once `count` events were printed, false after `timeoutMs`. */
  waitFor(count: number, timeoutMs: number): Promise<boolean> {
    if (this.count >= count) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter = {
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve(true);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        resolve(false);
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  async close(): Promise<void> {
    await this.client.endAsync(true);
  }

  private print(text: string): void {
    let event: EmotionEvent;
    try {
      event = JSON.parse(text) as EmotionEvent;
    } catch {
      this.opts.out(`(not an emotion event: ${text.slice(0, 200)})\n`);
      return;
    }
    if (typeof event.label !== "string" || typeof event.confidence !== "number") {
      this.opts.out(`(not an emotion event: ${text.slice(0, 200)})\n`);
      return;
    }
    this.opts.out(`${formatEvent(event, this.labelWidth, this.opts.sourceOf?.(event))}\n`);
    this.count++;
    const ready = this.waiters.filter((w) => w.count <= this.count);
    this.waiters = this.waiters.filter((w) => w.count > this.count);
    for (const w of ready) w.resolve();
  }
}

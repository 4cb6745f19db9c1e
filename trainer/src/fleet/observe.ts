import { type ModelStateReport, parseModelStateReport } from "@ser-edge/agent/rollout";
import type { AgentStatus } from "@ser-edge/agent/runtime";
import type { MqttClient } from "mqtt";

/** What the broker's retained and live messages say about one device. */
export interface DeviceView {
  device: string;
  fleet?: string;
  availability?: string;
  status?: AgentStatus;
  rollout?: ModelStateReport;
}

/**
 * Follows every device under `<base>/`: availability, status and rollout reports, retained ones
 * first (the broker sends them on subscribing). `onReport` sees each rollout report as it comes.
 */
export class FleetObserver {
  readonly devices = new Map<string, DeviceView>();
  private listeners: ((r: ModelStateReport, d: DeviceView) => void)[] = [];
  private availabilityListeners: ((d: DeviceView) => void)[] = [];

  constructor(
    private readonly client: MqttClient,
    private readonly base: string,
  ) {}

  async start(): Promise<void> {
    const b = this.base;
    this.client.on("message", (topic, payload) => this.onMessage(topic, payload));
    await this.client.subscribeAsync(
      [`${b}/+/availability`, `${b}/+/status`, `${b}/+/model/state`],
      { qos: 1 },
    );
  }

  onReport(f: (r: ModelStateReport, d: DeviceView) => void): void {
    this.listeners.push(f);
  }

  onAvailability(f: (d: DeviceView) => void): void {
    this.availabilityListeners.push(f);
  }

  /** Devices of a fleet, by what they last said (status or rollout report), sorted by id. */
  fleetMembers(fleet: string, onlineOnly = false): string[] {
    return [...this.devices.values()]
      .filter((d) => d.fleet === fleet && (!onlineOnly || d.availability === "online"))
      .map((d) => d.device)
      .sort();
  }

  private view(device: string): DeviceView {
    let d = this.devices.get(device);
    if (!d) {
      d = { device };
      this.devices.set(device, d);
    }
    return d;
  }

  private onMessage(topic: string, payload: Buffer): void {
    const prefix = `${this.base}/`;
    if (!topic.startsWith(prefix) || payload.length === 0) return;
    const rest = topic.slice(prefix.length).split("/");
    const device = rest[0];
    if (device === "fleet") return;
    const leaf = rest.slice(1).join("/");
    const text = payload.toString("utf8");
    if (leaf === "availability") {
      const d = this.view(device);
      d.availability = text;
      for (const f of this.availabilityListeners) f(d);
    } else if (leaf === "status") {
      try {
        const s = JSON.parse(text) as AgentStatus;
        const d = this.view(device);
        d.status = s;
        if (typeof s.fleet === "string") d.fleet = s.fleet;
      } catch {
        // Not ours: ignore.
      }
    } else if (leaf === "model/state") {
      const r = parseModelStateReport(text);
      if (!r) return;
      const d = this.view(device);
      d.rollout = r;
      if (r.fleet) d.fleet = r.fleet;
      for (const f of this.listeners) f(r, d);
    }
  }
}

/** Waits `ms` (the retained messages of a subscription arrive within it). */
export const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

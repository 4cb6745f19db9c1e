import { createHash } from "node:crypto";
import type { ModelStateReport } from "@ser-edge/agent/rollout";
import type { MqttClient } from "mqtt";
import { FleetObserver, settle } from "./observe.js";

/** A signed bundle ready to publish (see `ser-trainer push`). */
export interface PushPayload {
  id: string;
  version: string;
  sha256: string;
  envelope: Buffer;
}

export interface PushPlan {
  base: string;
  /** Publish to `<base>/fleet/<fleet>/model`... */
  fleet?: string;
  /** ...or to `<base>/<device>/model/set` of each of these. */
  devices?: string[];
  /** Canaries first: named ones, or this percentage of the fleet's known devices. */
  canary?: string[];
  canaryPercent?: number;
  /** How long to wait for the reports of each stage. */
  waitMs: number;
  /** How long canaries must stay applied and online before the rest get the bundle. */
  healthyMs: number;
  /** How long to collect the broker's retained device messages first. */
  discoverMs?: number;
  log: (line: string) => void;
}

export type DeviceOutcome = ModelStateReport["status"] | "pending";

export interface PushResult {
  /** released: everyone targeted got it; stopped: a canary failed, the rest got nothing. */
  outcome: "released" | "stopped";
  /** Why it stopped. */
  reason?: string;
  outcomes: Map<string, { outcome: DeviceOutcome; report?: ModelStateReport }>;
}

/** Deterministic, spread choice of `percent` % of `devices` (at least one). */
export function pickCanaries(devices: readonly string[], percent: number): string[] {
  const n = Math.max(1, Math.ceil((devices.length * percent) / 100));
  const rank = (d: string) => createHash("sha256").update(d).digest("hex");
  return [...devices].sort((a, b) => (rank(a) < rank(b) ? -1 : 1)).slice(0, n);
}

/**
 * Publishes a bundle, retained (a device that is offline gets it when it returns), in stages:
 * the canaries first, each to its own topic; once each reported `applied` and stayed applied and
 * online for `healthyMs`, the rest (the fleet topic, or the other devices' topics). A canary that
 * rejects, rolls back, goes offline or does not report stops the rollout: the rest get nothing
 * and the canaries' retained pushes are withdrawn.
 */
export async function pushBundle(
  client: MqttClient,
  payload: PushPayload,
  plan: PushPlan,
): Promise<PushResult> {
  const { base, log } = plan;
  const observer = new FleetObserver(client, base);
  const outcomes: PushResult["outcomes"] = new Map();
  const waiting = new Map<string, () => void>();
  observer.onReport((r) => {
    if (r.id !== payload.id) return;
    outcomes.set(r.device, { outcome: r.status, report: r });
    waiting.get(r.device)?.();
  });
  await observer.start();
  await settle(plan.discoverMs ?? 1000);

  let canaries = plan.canary ?? [];
  if (plan.canaryPercent !== undefined) {
    // Canaries must be able to answer now: only devices that are online.
    const members = plan.fleet
      ? observer.fleetMembers(plan.fleet, true)
      : (plan.devices ?? []).filter((d) => observer.devices.get(d)?.availability === "online");
    if (members.length === 0) {
      throw new Error(
        `no device of ${plan.fleet ? `fleet "${plan.fleet}"` : "--device"} is online on the broker, so there is nothing to pick canaries from; name them with --canary ID,...`,
      );
    }
    canaries = pickCanaries(members, plan.canaryPercent);
  }
  const setTopic = (d: string) => `${base}/${d}/model/set`;
  const publish = (topic: string, body: Buffer | string) =>
    client.publishAsync(topic, body, { qos: 1, retain: true });

  /** Resolves when every device reported on this push, or after `ms`. */
  const reportsFrom = (devices: string[], ms: number) =>
    new Promise<void>((resolve) => {
      const left = new Set(devices.filter((d) => !outcomes.has(d)));
      if (left.size === 0) return resolve();
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        for (const d of devices) waiting.delete(d);
        resolve();
      }
      for (const d of left) {
        waiting.set(d, () => {
          left.delete(d);
          if (left.size === 0) done();
        });
      }
    });
  const failed = (devices: string[]) =>
    devices.filter((d) => {
      const o = outcomes.get(d)?.outcome;
      return o === "rejected" || o === "rolled_back";
    });

  if (canaries.length > 0) {
    log(`canaries: ${canaries.join(", ")}`);
    for (const d of canaries) await publish(setTopic(d), payload.envelope);
    await reportsFrom(canaries, plan.waitMs);
    let reason: string | undefined;
    const bad = failed(canaries);
    const silent = canaries.filter((d) => !outcomes.has(d));
    if (bad.length > 0) {
      reason = bad
        .map(
          (d) =>
            `canary ${d} ${outcomes.get(d)?.outcome}: ${outcomes.get(d)?.report?.reason ?? ""}`,
        )
        .join("; ");
    } else if (silent.length > 0) {
      reason = `canar${silent.length > 1 ? "ies" : "y"} ${silent.join(", ")} did not report within ${plan.waitMs / 1000} s (offline, or rollout is off there)`;
    } else {
      log(`canaries applied ${payload.version}; watching them for ${plan.healthyMs / 1000} s`);
      reason = await watchHealthy(observer, canaries, payload.id, plan.healthyMs);
    }
    if (reason) {
      // Withdraw the canaries' pushes: a retained bad bundle would be retried at each reconnect.
      for (const d of canaries) await publish(setTopic(d), "");
      for (const d of silent) outcomes.set(d, { outcome: "pending" });
      log(`rollout stopped: ${reason}`);
      return { outcome: "stopped", reason, outcomes };
    }
  }

  const rest = plan.fleet
    ? observer.fleetMembers(plan.fleet).filter((d) => !canaries.includes(d))
    : (plan.devices ?? []).filter((d) => !canaries.includes(d));
  if (plan.fleet) {
    await publish(`${base}/fleet/${plan.fleet}/model`, payload.envelope);
    log(`published to fleet ${plan.fleet} (${rest.length} other known device(s))`);
  } else {
    for (const d of rest) await publish(setTopic(d), payload.envelope);
  }
  // The fleet topic now carries it to the canaries too; their own pushes are not needed.
  if (plan.fleet) for (const d of canaries) await publish(setTopic(d), "");
  await reportsFrom(rest, plan.waitMs);
  for (const d of rest) if (!outcomes.has(d)) outcomes.set(d, { outcome: "pending" });
  return { outcome: "released", outcomes };
}

/** Resolves undefined after `ms` if every canary stayed applied and online, else why not. */
function watchHealthy(
  observer: FleetObserver,
  canaries: string[],
  id: string,
  ms: number,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    let done = false;
    const finish = (why: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve(why);
    };
    const timer = setTimeout(() => finish(undefined), ms);
    observer.onReport((r, d) => {
      if (canaries.includes(d.device) && r.id === id && r.status !== "applied") {
        finish(`canary ${d.device} ${r.status}: ${r.reason ?? ""}`);
      }
    });
    observer.onAvailability((d) => {
      if (canaries.includes(d.device) && d.availability === "offline") {
        finish(`canary ${d.device} went offline during its healthy period`);
      }
    });
  });
}

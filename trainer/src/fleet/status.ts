import type { DeviceView } from "./observe.js";

/** One row of `ser-trainer fleet status`. */
export interface FleetRow {
  device: string;
  fleet: string;
  availability: string;
  model: string;
  last_status: string;
  uptime_s: number | null;
  rollout: { status: string; version: string; reason: string; time: string } | null;
}

export function fleetRows(devices: Iterable<DeviceView>, fleet?: string): FleetRow[] {
  const rows: FleetRow[] = [];
  for (const d of devices) {
    if (fleet !== undefined && d.fleet !== fleet) continue;
    const r = d.rollout;
    rows.push({
      device: d.device,
      fleet: d.fleet ?? "",
      availability: d.availability ?? "unknown",
      model: d.status?.model_version || r?.current || "",
      last_status: d.status ? `up ${d.status.uptime_s} s, ${d.status.utterances} utterances` : "",
      uptime_s: d.status?.uptime_s ?? null,
      rollout: r
        ? {
            status: r.status,
            version: r.version ?? "",
            reason: r.reason ?? r.code ?? "",
            time: r.time,
          }
        : null,
    });
  }
  return rows.sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
}

/** A plain-text table, columns padded to their widest cell. */
export function formatTable(rows: FleetRow[]): string {
  const head = ["DEVICE", "FLEET", "AVAILABILITY", "MODEL", "LAST ROLLOUT", "STATUS"];
  const cells = rows.map((r) => [
    r.device,
    r.fleet || "-",
    r.availability,
    r.model || "?",
    r.rollout
      ? `${r.rollout.status} ${r.rollout.version} ${r.rollout.time}${r.rollout.status === "applied" ? "" : ` (${truncate(r.rollout.reason, 60)})`}`
      : "-",
    r.last_status || "-",
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => v.padEnd(widths[i]))
      .join("  ")
      .trimEnd();
  return `${[line(head), ...cells.map(line)].join("\n")}\n`;
}

const truncate = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/** Outcomes a device reports on <base>/<device>/model/state (retained). */
export type RolloutStatus = "applied" | "rejected" | "rolled_back";

/** The wire format of a rollout outcome; `ser-trainer push` and `fleet status` read it. */
export interface ModelStateReport {
  device: string;
  /** The device's fleet, when it has one. */
  fleet?: string;
  status: RolloutStatus;
  /** The model the report is about (the pushed one; for rolled_back, the one given up). */
  version?: string;
  sha256?: string;
  /** The push id, to match a report with its push. */
  id?: string;
  /** Why, for rejected and rolled_back: a machine code and a sentence for people. */
  code?: string;
  reason?: string;
  /** The model version running after this outcome. */
  current: string;
  time: string;
}

export function parseModelStateReport(text: string): ModelStateReport | undefined {
  try {
    const v = JSON.parse(text) as ModelStateReport;
    if (typeof v !== "object" || v === null) return undefined;
    if (typeof v.device !== "string" || typeof v.current !== "string") return undefined;
    if (!["applied", "rejected", "rolled_back"].includes(v.status)) return undefined;
    return v;
  } catch {
    return undefined;
  }
}

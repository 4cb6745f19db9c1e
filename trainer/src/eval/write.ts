/** Writes report.html and metrics.json next to a trained model. */
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type ReportInput, renderReport } from "./report.js";

/** Version tag of metrics.json so readers can refuse a layout they do not know. */
export const METRICS_SCHEMA = "ser-edge/metrics@1";

/** metrics.json: the report's data, machine-readable (sets with their metrics, history, split). */
export interface MetricsFile extends ReportInput {
  schema: typeof METRICS_SCHEMA;
}

export function toMetricsFile(input: ReportInput): MetricsFile {
  return { schema: METRICS_SCHEMA, ...input };
}

/**
 * Writes `path` so that readers see the old file or the new one, never half of one: the text
 * goes to a temporary file in the same directory (same file system), then is renamed over.
 */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const tmp = `${path}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, text, "utf8");
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  }
}

/** Creates `dir` if needed and writes report.html and metrics.json into it. */
export async function writeReport(
  dir: string,
  input: ReportInput,
): Promise<{ html: string; json: string }> {
  await mkdir(dir, { recursive: true });
  const html = join(dir, "report.html");
  const json = join(dir, "metrics.json");
  // metrics.json first: a report.html on disk then always has its data beside it.
  await writeFileAtomic(json, `${JSON.stringify(toMetricsFile(input), null, 2)}\n`);
  await writeFileAtomic(html, renderReport(input));
  return { html, json };
}

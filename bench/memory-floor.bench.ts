// Where the agent's resident memory goes before it does any work: its runtime dependencies and
// its own code loaded step by step in a child process (with the unit's memory settings), so the
// memory target can be read against what the chosen parts cost by themselves.
// Run alone: node --conditions=source --import tsx bench/memory-floor.bench.ts
import { execFile } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { SERVICE_MEMORY_ENV } from "../agent/src/bench/service-env.js";

export interface FloorStep {
  step: string;
  rss_mib: number;
  anon_mib: number;
  file_mib: number;
}

export async function benchMemoryFloor(): Promise<FloorStep[]> {
  const root = fileURLToPath(new URL("../", import.meta.url));
  const model = `${root}models/default/model.onnx`;
  if (!existsSync(model)) throw new Error(`${model} is missing: the floor is measured on it`);
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [
      "--expose-gc",
      fileURLToPath(new URL("memory-floor.child.mjs", import.meta.url)),
      model,
      pathToFileURL(`${root}agent/dist/vad/silero-wasm.js`).href,
      pathToFileURL(`${root}agent/dist/cli.js`).href,
      pathToFileURL(`${root}agent/dist/model/wasm-engine.js`).href,
    ],
    { cwd: root, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...SERVICE_MEMORY_ENV } },
  );
  return stdout
    .trim()
    .split("\n")
    .map(
      (line) =>
        JSON.parse(line) as { step: string; rss_kib: number; anon_kib: number; file_kib: number },
    )
    .map((s) => ({
      step: s.step,
      rss_mib: s.rss_kib / 1024,
      anon_mib: s.anon_kib / 1024,
      file_mib: s.file_kib / 1024,
    }));
}

export function memoryFloorMarkdown(steps: FloorStep[]): string {
  const f = (x: number) => x.toFixed(1);
  return [
    "Resident memory of the agent's parts, loaded one after another in one process (the unit's memory settings; a full garbage collection before each reading):",
    "",
    "| step | RSS | private | file-backed | added |",
    "|---|---|---|---|---|",
    ...steps.map(
      (s, i) =>
        `| ${s.step} | ${f(s.rss_mib)} MiB | ${f(s.anon_mib)} MiB | ${f(s.file_mib)} MiB | ${i === 0 ? "" : `${s.rss_mib >= steps[i - 1].rss_mib ? "+" : ""}${f(s.rss_mib - steps[i - 1].rss_mib)} MiB`} |`,
    ),
  ].join("\n");
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  console.log(memoryFloorMarkdown(await benchMemoryFloor()));
}

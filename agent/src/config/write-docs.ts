/**
 * Writes config/README.md and config/ser-agent.example.json from the schema:
 *   node --conditions=source --import tsx agent/src/config/write-docs.ts
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { configReadme, exampleConfig } from "./docs.js";

const dir = fileURLToPath(new URL("../../../config/", import.meta.url));
writeFileSync(`${dir}README.md`, configReadme());
writeFileSync(`${dir}ser-agent.example.json`, exampleConfig());
process.stdout.write(`wrote ${dir}README.md and ${dir}ser-agent.example.json\n`);

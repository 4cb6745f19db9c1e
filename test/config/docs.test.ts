import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { REGENERATE_COMMAND } from "../../agent/src/config/docs.js";
import { configReadme, exampleConfig, loadConfig, SETTINGS } from "../../agent/src/config/index.js";

const CONFIG_DIR = fileURLToPath(new URL("../../config/", import.meta.url));
const readme = readFileSync(`${CONFIG_DIR}README.md`, "utf8");
const example = readFileSync(`${CONFIG_DIR}ser-agent.example.json`, "utf8");

describe("config/ reference files", () => {
  it("config/README.md is the schema's reference", () => {
    assert.equal(readme, configReadme(), `config/README.md is stale: run ${REGENERATE_COMMAND}`);
  });

  it("config/ser-agent.example.json is the schema's example", () => {
    assert.equal(example, exampleConfig(), `the example is stale: run ${REGENERATE_COMMAND}`);
  });

  it("the README has one table row per setting, with its variable and argument", () => {
    const rows = readme.split("\n").filter((l) => /^\| `[A-Za-z.]+` \|/.test(l));
    assert.equal(rows.length, SETTINGS.length);
    for (const s of SETTINGS) {
      const row = rows.find((r) => r.startsWith(`| \`${s.key}\` |`));
      assert.ok(row, `${s.key} has a row`);
      assert.ok(row.includes(`\`${s.env}\``), `${s.key} row names ${s.env}`);
      if (s.arg) assert.ok(row.includes(`\`--${s.arg}\``), `${s.key} row names --${s.arg}`);
    }
  });

  it("the example sets every setting, to its default, and loads", () => {
    const file = `${CONFIG_DIR}ser-agent.example.json`;
    const parsed = JSON.parse(example);
    for (const s of SETTINGS) {
      const value = s.key.split(".").reduce((node, k) => node?.[k], parsed);
      assert.deepEqual(value, s.spec.default, s.key);
    }
    const fromExample = loadConfig({ file, env: {}, args: [], hostname: "h" });
    assert.deepEqual(fromExample, loadConfig({ env: {}, args: [], hostname: "h" }));
  });
});

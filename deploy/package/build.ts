import { execFileSync } from "node:child_process";
import {
  chmodSync,
  copyFileSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { findNative } from "./native.js";
import { packageReadme, thirdPartyNotices } from "./notices.js";
import { keepInPackage } from "./prune.js";

export const ARCHES = ["arm64", "x64"] as const;
export type Arch = (typeof ARCHES)[number];

/** The repository root. */
export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export interface BuildOptions {
  arches: readonly Arch[];
  /** Where the tarballs go (created). */
  outDir: string;
  /** Keep the unpacked trees beside the tarballs (for inspection); default false. */
  keepTrees?: boolean;
  log?: (line: string) => void;
}

export interface BuiltPackage {
  arch: Arch;
  name: string;
  tarball: string;
  /** The unpacked tree, when keepTrees. */
  tree?: string;
  compressedBytes: number;
  unpackedBytes: number;
  files: number;
}

interface AgentPackageJson {
  name: string;
  version: string;
  exports?: Record<string, Record<string, string> | string>;
  [key: string]: unknown;
}

const readJson = <T>(path: string): T => JSON.parse(readFileSync(path, "utf8")) as T;

/** The built agent must exist: the package ships dist/ and wasm/, never sources. */
function checkBuilt(): void {
  for (const f of [
    "agent/dist/cli.js",
    "agent/wasm/frames.wasm",
    "agent/wasm/silero.wasm",
    "agent/wasm/model.wasm",
    "models/default/manifest.json",
  ]) {
    if (!existsSync(join(ROOT, f))) {
      throw new Error(
        `${f} is missing; run \`npm run build\` first (\`npm run package\` does), and keep models/default in the repository`,
      );
    }
  }
}

/**
 * The agent's production dependencies exactly as the lockfile pins them, installed the way a
 * device would (`npm ci --workspace agent --omit=dev --ignore-scripts`), into a scratch copy of
 * the workspace; from npm's cache when it has them (`npm ci` of the repository filled it).
 */
function stageDependencies(stage: string, log: (l: string) => void): string {
  for (const f of ["package.json", "package-lock.json", ".npmrc"]) {
    copyFileSync(join(ROOT, f), join(stage, f));
  }
  for (const ws of ["agent", "trainer"]) {
    mkdirSync(join(stage, ws));
    copyFileSync(join(ROOT, ws, "package.json"), join(stage, ws, "package.json"));
  }
  log("installing the agent's production dependencies (npm ci --omit=dev)");
  try {
    execFileSync(
      "npm",
      [
        "ci",
        "--workspace",
        "agent",
        "--omit=dev",
        "--ignore-scripts",
        "--prefer-offline",
        "--no-audit",
        "--no-fund",
        "--loglevel=error",
      ],
      { cwd: stage, stdio: ["ignore", "pipe", "pipe"], encoding: "utf8" },
    );
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(
      `npm ci of the agent's dependencies failed: ${e.stderr?.trim() || e.message}; check that package-lock.json is current (npm install) and that the npm registry or cache is reachable`,
    );
  }
  return join(stage, "node_modules");
}

/** The agent's package.json as shipped: the package has no src/ and no .d.ts, so no "source" or "types". */
function shippedPackageJson(pkg: AgentPackageJson): AgentPackageJson {
  const exports: AgentPackageJson["exports"] = {};
  for (const [k, v] of Object.entries(pkg.exports ?? {})) {
    if (typeof v === "string") exports[k] = v;
    else {
      exports[k] = Object.fromEntries(
        Object.entries(v).filter(([c]) => c !== "source" && c !== "types"),
      );
    }
  }
  return { ...pkg, exports };
}

/** Removes the directories pruning left empty (sources-only src/, types-only folders). */
function removeEmptyDirs(dir: string): boolean {
  let empty = true;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory() && removeEmptyDirs(join(dir, e.name))) rmdirSync(join(dir, e.name));
    else empty = false;
  }
  return empty;
}

function treeSize(dir: string): { bytes: number; files: number } {
  const out = execFileSync("find", [dir, "-type", "f", "-printf", "%s\\n"], { encoding: "utf8" });
  const sizes = out.split("\n").filter(Boolean).map(Number);
  return { bytes: sizes.reduce((a, b) => a + b, 0), files: sizes.length };
}

/** The Silero weights file the agent loads by default, from the built agent itself. */
async function sileroWeights(): Promise<string> {
  const url = new URL("../../agent/dist/vad/silero.js", import.meta.url).href;
  const m = (await import(url)) as {
    SILERO_VARIANTS: Record<string, string>;
    DEFAULT_SILERO_VARIANT: string;
  };
  return m.SILERO_VARIANTS[m.DEFAULT_SILERO_VARIANT];
}

/** Assembles one architecture's tree under `parent`; returns its directory. */
function assemble(
  parent: string,
  name: string,
  arch: Arch,
  nodeModules: string,
  silero: string,
  pkg: AgentPackageJson,
): string {
  const dir = join(parent, name);
  mkdirSync(dir, { recursive: true });
  const agent = join(ROOT, "agent");
  cpSync(join(agent, "bin"), join(dir, "bin"), { recursive: true });
  chmodSync(join(dir, "bin/ser-agent.js"), 0o755);
  // Compiled JavaScript only: declarations and source maps point at sources that are not shipped.
  cpSync(join(agent, "dist"), join(dir, "dist"), {
    recursive: true,
    filter: (src) => !/\.(d\.ts|map|tsbuildinfo)$/.test(src),
  });
  cpSync(join(agent, "wasm"), join(dir, "wasm"), { recursive: true });
  writeFileSync(join(dir, "package.json"), `${JSON.stringify(shippedPackageJson(pkg), null, 2)}\n`);
  cpSync(nodeModules, join(dir, "node_modules"), {
    recursive: true,
    filter: (src) =>
      src === nodeModules ||
      keepInPackage(relative(nodeModules, src), { arch, sileroWeights: silero }),
  });
  removeEmptyDirs(join(dir, "node_modules"));
  cpSync(join(ROOT, "models/default"), join(dir, "models/default"), { recursive: true });
  // Speech for `ser-agent bench` on a board that has no recordings (with their licence).
  cpSync(join(ROOT, "demo"), join(dir, "demo"), { recursive: true });
  // The unit and the installer, when the deploy work has put them in the repository.
  for (const f of ["ser-agent.service", "install.sh"]) {
    const src = join(ROOT, "deploy", f);
    if (existsSync(src)) {
      mkdirSync(join(dir, "deploy"), { recursive: true });
      copyFileSync(src, join(dir, "deploy", f));
      chmodSync(join(dir, "deploy", f), statSync(src).mode & 0o777);
    }
  }
  writeFileSync(
    join(dir, "README.md"),
    packageReadme(pkg.version, arch, existsSync(join(dir, "deploy/install.sh"))),
  );
  writeFileSync(join(dir, "THIRD-PARTY-NOTICES.txt"), thirdPartyNotices(join(dir, "node_modules")));
  return dir;
}

/** Fails unless every native binary in the tree is built for linux-<arch>, ONNX Runtime's among them. */
export function checkNative(dir: string, arch: Arch): void {
  const native = findNative(dir);
  const foreign = native.filter((n) => n.target !== `linux-${arch}`);
  if (foreign.length > 0) {
    throw new Error(
      `the linux-${arch} package holds native code for other targets: ${foreign.map((f) => `${f.path} (${f.target})`).join(", ")}; extend deploy/package/prune.ts to drop them`,
    );
  }
  const binding = `node_modules/onnxruntime-node/bin/napi-v6/linux/${arch}/onnxruntime_binding.node`;
  if (!native.some((n) => n.path === binding)) {
    throw new Error(
      `the linux-${arch} package lacks ${binding}; the onnxruntime-node layout changed, update deploy/package/prune.ts`,
    );
  }
}

/** Reproducible tarball: sorted names, root-owned, one timestamp (the last commit's). */
function tarball(parent: string, name: string, file: string): void {
  let mtime = "@0";
  try {
    mtime = `@${execFileSync("git", ["log", "-1", "--format=%ct"], { cwd: ROOT, encoding: "utf8" }).trim()}`;
  } catch {
    // not a git checkout: epoch
  }
  execFileSync(
    "tar",
    [
      "--sort=name",
      "--owner=0",
      "--group=0",
      "--numeric-owner",
      `--mtime=${mtime}`,
      "--use-compress-program=gzip -9n",
      "-cf",
      file,
      "-C",
      parent,
      name,
    ],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
}

/**
 * `npm run package`: one tarball per architecture, `ser-agent-<version>-linux-<arch>.tar.gz`,
 * unpacking to `ser-agent-<version>-linux-<arch>/` that runs with Node.js >= 20 alone.
 */
export async function buildPackages(o: BuildOptions): Promise<BuiltPackage[]> {
  const log = o.log ?? (() => {});
  checkBuilt();
  const pkg = readJson<AgentPackageJson>(join(ROOT, "agent/package.json"));
  const silero = await sileroWeights();
  mkdirSync(o.outDir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), "ser-agent-package-"));
  try {
    const nodeModules = stageDependencies(work, log);
    const built: BuiltPackage[] = [];
    for (const arch of o.arches) {
      const name = `ser-agent-${pkg.version}-linux-${arch}`;
      log(`assembling ${name}`);
      const parent = o.keepTrees ? o.outDir : join(work, "trees");
      rmSync(join(parent, name), { recursive: true, force: true });
      const dir = assemble(parent, name, arch, nodeModules, silero, pkg);
      checkNative(dir, arch);
      const file = join(o.outDir, `${name}.tar.gz`);
      log(`compressing ${name}.tar.gz`);
      tarball(parent, name, file);
      const size = treeSize(dir);
      built.push({
        arch,
        name,
        tarball: file,
        ...(o.keepTrees ? { tree: dir } : {}),
        compressedBytes: statSync(file).size,
        unpackedBytes: size.bytes,
        files: size.files,
      });
    }
    return built;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

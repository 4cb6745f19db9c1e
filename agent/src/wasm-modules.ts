import { readFileSync } from "node:fs";

/** The agent's own WebAssembly, built from agent/assembly by `npm run build:wasm`. */
export type AgentWasm = "frames" | "silero" | "model";

const compiled = new Map<AgentWasm, WebAssembly.Module>();

/** agent/wasm/<name>.wasm, compiled once per thread (instances are the callers'). */
export function agentWasm(name: AgentWasm, what: string): WebAssembly.Module {
  const hit = compiled.get(name);
  if (hit) return hit;
  const url = new URL(`../wasm/${name}.wasm`, import.meta.url);
  let bytes: Buffer;
  try {
    bytes = readFileSync(url);
  } catch (err) {
    throw new Error(
      `${what} ${url.pathname} is missing (${(err as Error).message}); run \`npm run build:wasm\``,
    );
  }
  const m = new WebAssembly.Module(bytes);
  compiled.set(name, m);
  return m;
}

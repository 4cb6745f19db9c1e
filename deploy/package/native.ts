import { closeSync, openSync, readdirSync, readSync } from "node:fs";
import { join, relative } from "node:path";

/** A native executable or library found in a tree, and what it was built for. */
export interface NativeFile {
  path: string;
  /** "linux-x64", "linux-arm64", "linux-arm", "linux-<e_machine>", "darwin", "win32". */
  target: string;
}

/** ELF e_machine values we can name (the rest are reported by number). */
const ELF_MACHINES: Record<number, string> = { 62: "x64", 183: "arm64", 40: "arm", 3: "ia32" };

/** What the first bytes of a file say it was built for; undefined for anything not native code. */
export function nativeTarget(head: Buffer): string | undefined {
  if (head.length >= 20 && head.readUInt32BE(0) === 0x7f454c46) {
    const machine = head[5] === 2 ? head.readUInt16BE(18) : head.readUInt16LE(18);
    return `linux-${ELF_MACHINES[machine] ?? `machine-${machine}`}`;
  }
  if (head.length >= 4) {
    const magic = head.readUInt32BE(0);
    // Mach-O 32/64 in either byte order, and universal ("fat") binaries.
    if ([0xfeedface, 0xfeedfacf, 0xcefaedfe, 0xcffaedfe, 0xcafebabe].includes(magic)) {
      return "darwin";
    }
  }
  if (head.length >= 2 && head[0] === 0x4d && head[1] === 0x5a) return "win32"; // "MZ": PE
  return undefined;
}

/** Every native binary under `dir` (ELF, Mach-O, PE), by content, not by name. */
export function findNative(dir: string): NativeFile[] {
  const out: NativeFile[] = [];
  const head = Buffer.alloc(20);
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) {
        const fd = openSync(p, "r");
        const n = readSync(fd, head, 0, head.length, 0);
        closeSync(fd);
        // .wasm, scripts and data never start with these magics; "MZ" text files are not code.
        const target = nativeTarget(head.subarray(0, n));
        if (target && !(target === "win32" && !/\.(dll|exe|node)$/i.test(e.name))) {
          out.push({ path: relative(dir, p), target });
        }
      }
    }
  };
  walk(dir);
  return out;
}

import { readdir, realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { isAudioFile } from "./reader.js";

/**
 * Names never descended into or read: hidden files (".DS_Store", macOS "._x.wav" resource forks)
 * and the __MACOSX folder that zip archives made on macOS carry.
 */
export function isIgnoredName(name: string): boolean {
  return name.startsWith(".") || name === "__MACOSX";
}

export interface WalkResult {
  /** Audio files as path segments below the root, sorted. */
  files: string[][];
  /** Folders that could not be listed, with the reason. */
  errors: { path: string; reason: string }[];
}

/** Lists audio files below `root` recursively, following symlinks once (cycles are cut). */
export async function walkAudioFiles(root: string): Promise<WalkResult> {
  const files: string[][] = [];
  const errors: WalkResult["errors"] = [];
  const seen = new Set<string>();

  async function visit(dir: string, segments: string[]): Promise<void> {
    try {
      const real = await realpath(dir);
      if (seen.has(real)) return;
      seen.add(real);
    } catch {
      // realpath failing means readdir fails too; let readdir report it.
    }
    let entries: import("node:fs").Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (err) {
      errors.push({ path: dir, reason: `cannot list folder (${(err as Error).message})` });
      return;
    }
    for (const entry of entries) {
      if (isIgnoredName(entry.name)) continue;
      const path = join(dir, entry.name);
      let isDir = entry.isDirectory();
      let isFile = entry.isFile();
      if (entry.isSymbolicLink()) {
        try {
          const info = await stat(path);
          isDir = info.isDirectory();
          isFile = info.isFile();
        } catch {
          errors.push({ path, reason: "broken symbolic link" });
          continue;
        }
      }
      if (isDir) await visit(path, [...segments, entry.name]);
      else if (isFile && isAudioFile(entry.name)) files.push([...segments, entry.name]);
    }
  }

  await visit(root, []);
  files.sort((a, b) => compareNatural(a.join("/"), b.join("/")));
  return { files, errors };
}

/** "Actor_2" before "Actor_10", so listings read naturally. */
export function compareNatural(a: string, b: string): number {
  return a.localeCompare(b, "en", { numeric: true });
}

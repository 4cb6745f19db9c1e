import { readdir, stat } from "node:fs/promises";
import { extname, join } from "node:path";

export const AUDIO_EXTENSIONS = new Set([".wav", ".flac", ".mp3"]);

/**
 * Expands arguments into audio files: files are kept as given (even with another extension, so
 * that the decoder can say what is wrong with them), directories are searched recursively for
 * .wav/.flac/.mp3, sorted. Missing paths are kept too: reading them gives the clear error.
 */
export async function expandAudioPaths(args: string[]): Promise<string[]> {
  const out: string[] = [];
  for (const arg of args) {
    const info = await stat(arg).catch(() => undefined);
    if (info?.isDirectory()) out.push(...(await walk(arg)));
    else out.push(arg);
  }
  return out;
}

async function walk(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out: string[] = [];
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await walk(p)));
    else if (AUDIO_EXTENSIONS.has(extname(e.name).toLowerCase())) out.push(p);
  }
  return out;
}

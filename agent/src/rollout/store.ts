import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  fsyncDir,
  MANIFEST_FILE,
  type Manifest,
  MODEL_FILE,
  manifestText,
  sha256Hex,
  writeFileAtomic,
} from "../model/index.js";

/**
 * The models a device received, on disk, so that a power cut or a SIGKILL at any instant leaves
 * a complete, verifiable bundle to start from:
 *
 *   <dir>/bundles/<version>-<sha12>/{manifest.json,model.onnx}   complete bundles only
 *   <dir>/bundles/.tmp-*                                          being written; removed at start
 *   <dir>/active.json      which bundle runs, and the previous one (null: the installed model)
 *   <dir>/probation.json   the bundle on probation after a swap, and whether the agent runs it
 *   <dir>/state.json       rolled-back models, the last rollback authorisation, the last report
 *
 * A bundle is written into a temporary directory, each file fsynced, the directory fsynced,
 * then renamed into place and the parent fsynced; only then does active.json (written to a
 * temporary file, fsynced, renamed, directory fsynced) point at it. Every file is replaced by
 * rename, so a reader sees the old content or the new, never a mix.
 */

/** `null` names the installed model (config model.dir). */
export type BundleRef = string | null;

export interface ActivePointer {
  current: BundleRef;
  previous: BundleRef;
}

export interface Probation {
  bundle: string;
  version: string;
  sha256: string;
  /** Push id of the rollout that installed it. */
  id: string;
  /** Epoch ms when the probation ends. */
  until: number;
  /** True while an agent runs it; found true at start, the last run died. */
  running: boolean;
}

export interface StoreState {
  /** sha256 of models rolled back here: never installed again. */
  rolledBack: string[];
  /** issuedAt of the last rollback authorisation accepted. */
  lastRollback?: string;
  /** Push id of the last report published (a redelivered push is not reported twice). */
  lastReportId?: string;
}

const ACTIVE = "active.json";
const PROBATION = "probation.json";
const STATE = "state.json";
const BUNDLES = "bundles";
const TMP_PREFIX = ".tmp-";
const KEEP_ROLLED_BACK = 100;

async function readJson<T>(path: string): Promise<T | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  try {
    return JSON.parse(text) as T;
  } catch {
    // Written by rename only, so this is damage from outside; treat it as absent.
    return undefined;
  }
}

/** A directory name from a version and hash: only characters safe in a path. */
export function bundleName(manifest: Manifest): string {
  const version = manifest.version.replace(/[^0-9A-Za-z.-]/g, "_");
  return `${version}-${manifest.model.sha256.slice(0, 12)}`;
}

export class ModelStore {
  private constructor(
    readonly dir: string,
    /** The installed model's directory (config model.dir), what `null` refers to. */
    readonly installedDir: string,
    private active: ActivePointer,
    private probationValue: Probation | undefined,
    private stateValue: StoreState,
  ) {}

  /** Opens (creating) the store and removes what an interrupted install left behind. */
  static async open(dir: string, installedDir: string): Promise<ModelStore> {
    const bundles = join(dir, BUNDLES);
    await mkdir(bundles, { recursive: true, mode: 0o700 });
    for (const name of await readdir(bundles)) {
      if (name.startsWith(TMP_PREFIX))
        await rm(join(bundles, name), { recursive: true, force: true });
    }
    for (const name of await readdir(dir)) {
      if (name.endsWith(".tmp")) await rm(join(dir, name), { force: true });
    }
    const active = (await readJson<ActivePointer>(join(dir, ACTIVE))) ?? {
      current: null,
      previous: null,
    };
    const probation = await readJson<Probation>(join(dir, PROBATION));
    const state = (await readJson<StoreState>(join(dir, STATE))) ?? { rolledBack: [] };
    if (!Array.isArray(state.rolledBack)) state.rolledBack = [];
    return new ModelStore(dir, installedDir, active, probation, state);
  }

  get pointer(): Readonly<ActivePointer> {
    return this.active;
  }

  get probation(): Readonly<Probation> | undefined {
    return this.probationValue;
  }

  get state(): Readonly<StoreState> {
    return this.stateValue;
  }

  /** The directory of a bundle reference. */
  pathOf(ref: BundleRef): string {
    return ref === null ? this.installedDir : join(this.dir, BUNDLES, ref);
  }

  /**
   * Writes a bundle durably under bundles/ and returns its name; does not activate it. A bundle
   * already there with the same content is kept.
   */
  async install(manifest: Manifest, model: Uint8Array): Promise<string> {
    const name = bundleName(manifest);
    const target = this.pathOf(name);
    const existing = await readFile(join(target, MODEL_FILE)).catch(() => undefined);
    if (existing && sha256Hex(existing) === manifest.model.sha256) {
      const m = await readFile(join(target, MANIFEST_FILE), "utf8").catch(() => "");
      if (m === manifestText(manifest)) return name;
    }
    const bundles = join(this.dir, BUNDLES);
    const tmp = join(bundles, `${TMP_PREFIX}${randomBytes(6).toString("hex")}`);
    await mkdir(tmp, { mode: 0o700 });
    try {
      await writeSynced(join(tmp, MODEL_FILE), model);
      await writeSynced(join(tmp, MANIFEST_FILE), manifestText(manifest));
      await fsyncDir(tmp);
      await rm(target, { recursive: true, force: true });
      await rename(tmp, target);
      await fsyncDir(bundles);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
    return name;
  }

  /**
   * Makes `name` the current bundle and the current one its previous; with `probation`, the
   * probation record is written first, so that a crash in between leaves a record that names a
   * bundle which is not current (ignored) rather than a current bundle without probation.
   */
  async activate(name: string, probation?: Omit<Probation, "bundle" | "running">): Promise<void> {
    if (probation) await this.writeProbation({ ...probation, bundle: name, running: true });
    else await this.clearProbation();
    const previous = this.active.current === name ? this.active.previous : this.active.current;
    await this.writeActive({ current: name, previous });
    await this.prune();
  }

  /**
   * Goes back to the previous bundle (or the installed model) and remembers the current one's
   * hash so that a retained push of it is not installed again. Returns the bundle now current.
   */
  async rollBack(sha256: string | undefined): Promise<BundleRef> {
    const to = this.active.previous;
    if (sha256) await this.remember(sha256);
    await this.clearProbation();
    await this.writeActive({ current: to, previous: null });
    await this.prune();
    return to;
  }

  /** Makes `ref` current with no previous (the start-up found the others unusable). */
  async reset(ref: BundleRef): Promise<void> {
    await this.clearProbation();
    await this.writeActive({ current: ref, previous: null });
    await this.prune();
  }

  /** Remembers a model that must not be installed again. */
  async remember(sha256: string): Promise<void> {
    const list = this.stateValue.rolledBack.filter((s) => s !== sha256);
    list.push(sha256);
    await this.saveState({ rolledBack: list.slice(-KEEP_ROLLED_BACK) });
  }

  async saveState(patch: Partial<StoreState>): Promise<void> {
    this.stateValue = { ...this.stateValue, ...patch };
    await this.writeDurably(STATE, `${JSON.stringify(this.stateValue, null, 2)}\n`);
  }

  async setProbationRunning(running: boolean): Promise<void> {
    if (!this.probationValue || this.probationValue.running === running) return;
    await this.writeProbation({ ...this.probationValue, running });
  }

  async clearProbation(): Promise<void> {
    if (this.probationValue === undefined) return;
    this.probationValue = undefined;
    await rm(join(this.dir, PROBATION), { force: true });
    await fsyncDir(this.dir);
  }

  private async writeProbation(p: Probation): Promise<void> {
    this.probationValue = p;
    await this.writeDurably(PROBATION, `${JSON.stringify(p, null, 2)}\n`);
  }

  private async writeActive(p: ActivePointer): Promise<void> {
    this.active = p;
    await this.writeDurably(ACTIVE, `${JSON.stringify(p, null, 2)}\n`);
  }

  private async writeDurably(file: string, text: string): Promise<void> {
    await writeFileAtomic(join(this.dir, file), text);
    await fsyncDir(this.dir);
  }

  /** Only the current and the previous bundle are kept. */
  private async prune(): Promise<void> {
    const keep = new Set([this.active.current, this.active.previous]);
    const bundles = join(this.dir, BUNDLES);
    for (const name of await readdir(bundles)) {
      if (!keep.has(name) && !name.startsWith(TMP_PREFIX)) {
        await rm(join(bundles, name), { recursive: true, force: true });
      }
    }
  }
}

async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const fh = await open(path, "wx", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

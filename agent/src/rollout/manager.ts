import type { KeyObject } from "node:crypto";
import {
  isModelError,
  loadTrustedModel,
  type Manifest,
  type ModelRunner,
  type ModelRuntime,
} from "../model/index.js";
import type { Logger } from "../runtime/types.js";
import { type Candidate, checkCandidate, envelopeId } from "./candidate.js";
import { decodeEnvelope } from "./envelope.js";
import { RolloutError } from "./errors.js";
import type { ModelStateReport, RolloutStatus } from "./report.js";
import type { BundleRef, ModelStore } from "./store.js";

/** What the rollout needs of MQTT (MqttPublisher has it). */
export interface RolloutTransport {
  subscribe(
    topic: string,
    handler: (topic: string, payload: Buffer, retained: boolean) => void,
  ): void;
  publishRetained(topic: string, payload: string): boolean;
}

/** What the rollout needs of the running agent. */
export interface RolloutHost {
  /** The manifest of the model classifying now. */
  manifest(): Manifest;
  /** Puts a verified model to work without stopping the audio; releases the old one when idle. */
  swap(runner: ModelRunner): Promise<void>;
}

export interface RolloutOptions {
  store: ModelStore;
  /** The trust store; rollout is not started without one. */
  keys: readonly KeyObject[];
  /** The installed model (config model.dir) must be signed too (model.requireSignature). */
  requireInstalledSignature: boolean;
  device: string;
  fleet?: string;
  /** `<base>/<device>/model/set`, `<base>/fleet/<fleet>/model` (if any), `.../model/state`. */
  topics: { set: string; fleet?: string; state: string };
  maxBytes: number;
  probationMs: number;
  maxModelErrors: number;
  threads: number;
  runtime?: ModelRuntime;
  logger: Logger;
  now?: () => number;
}

const errorCode = (err: unknown): string =>
  err instanceof RolloutError || isModelError(err) ? err.code : "internal";

/**
 * The device side of remote model rollout: at start-up, which bundle to run (rolling back when
 * the last run died while a new model was on probation); then, for each bundle pushed over MQTT,
 * the checks (candidate.ts), the durable install (store.ts), the live swap and a report on
 * `<base>/<device>/model/state`; and the probation that follows a swap.
 */
export class RolloutManager {
  private transport: RolloutTransport | undefined;
  private host: RolloutHost | undefined;
  private readonly pending: ModelStateReport[] = [];
  private chain: Promise<void> = Promise.resolve();
  private probationTimer: NodeJS.Timeout | undefined;
  private modelErrors = 0;
  private stopped = false;
  private readonly now: () => number;

  constructor(private readonly opts: RolloutOptions) {
    this.now = opts.now ?? Date.now;
  }

  get store(): ModelStore {
    return this.opts.store;
  }

  /**
   * Chooses and loads the model to start with: the current bundle, else the previous one, else
   * the installed model. A bundle on probation whose last run never stopped cleanly is given up
   * first (reported rolled_back once MQTT is up).
   */
  async startup<T>(load: (dir: string, requireSignature: boolean) => Promise<T>): Promise<T> {
    const { store, logger } = this.opts;
    const p = store.probation;
    if (p && p.bundle === store.pointer.current) {
      if (p.running) {
        const to = await store.rollBack(p.sha256);
        const reason = `the agent stopped unexpectedly while model ${p.version} was on probation (a crash, a kill or a power loss); went back to ${to ?? "the installed model"}`;
        logger.error("rollout: rolled back", { version: p.version, reason });
        this.pending.push(
          this.draft("rolled_back", {
            version: p.version,
            sha256: p.sha256,
            id: p.id,
            code: "crashed",
            reason,
          }),
        );
      } else {
        await store.setProbationRunning(true);
      }
    } else if (p) {
      await store.clearProbation();
    }
    const current = store.pointer.current;
    const order: BundleRef[] = [...new Set<BundleRef>([current, store.pointer.previous, null])];
    const failures: string[] = [];
    for (const ref of order) {
      const dir = store.pathOf(ref);
      try {
        const loaded = await load(dir, ref !== null || this.opts.requireInstalledSignature);
        if (ref !== current) {
          await store.reset(ref);
          const reason = `bundle ${current} could not be loaded (${failures[0]}); went back to ${ref ?? "the installed model"}`;
          logger.error("rollout: rolled back", { reason });
          this.pending.push(this.draft("rolled_back", { code: "load-failed", reason }));
        }
        if (store.probation) this.startProbation(store.probation.until - this.now());
        return loaded;
      } catch (err) {
        if (ref === null) throw err;
        logger.error("rollout: a stored bundle cannot be used", { dir, error: err });
        failures.push((err as Error).message);
      }
    }
    throw new Error("unreachable: the installed model is always tried");
  }

  /** Starts listening for pushes and publishes what start-up had to report. */
  attach(transport: RolloutTransport, host: RolloutHost): void {
    this.transport = transport;
    this.host = host;
    const onMessage = (topic: string, payload: Buffer, retained: boolean) => {
      // An empty retained message is how a push is withdrawn: nothing to install.
      if (payload.length === 0 || this.stopped) return;
      this.chain = this.chain
        .then(() => this.handle(payload, topic, retained))
        .catch((err) => this.opts.logger.error("rollout: unexpected failure", { error: err }));
    };
    transport.subscribe(this.opts.topics.set, onMessage);
    if (this.opts.topics.fleet) transport.subscribe(this.opts.topics.fleet, onMessage);
    for (const r of this.pending.splice(0))
      this.publish({ ...r, current: host.manifest().version });
  }

  /** A classification failed: during probation, enough of these roll the model back. */
  noteModelError(err: unknown): void {
    if (!this.opts.store.probation || this.stopped) return;
    this.modelErrors += 1;
    if (this.modelErrors === this.opts.maxModelErrors) {
      const version = this.opts.store.probation.version;
      const reason = `model ${version} failed ${this.modelErrors} classifications during its probation (last: ${(err as Error)?.message ?? String(err)})`;
      this.chain = this.chain.then(() => this.rollBackLive("model-errors", reason));
    }
  }

  /** Waits for the rollout in progress; a probation stays pending for the next start. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.probationTimer) clearTimeout(this.probationTimer);
    await this.chain.catch(() => {});
    await this.opts.store.setProbationRunning(false).catch((err) => {
      this.opts.logger.warn("rollout: probation state not saved", { error: err });
    });
  }

  // --- a push ---

  private async handle(payload: Buffer, topic: string, retained: boolean): Promise<void> {
    const { store, logger } = this.opts;
    const host = this.host as RolloutHost;
    const running = host.manifest();
    logger.info("rollout: bundle received", { topic, bytes: payload.length, retained });
    let cand: Candidate;
    try {
      cand = await checkCandidate(payload, {
        maxBytes: this.opts.maxBytes,
        keys: this.opts.keys,
        current: {
          version: running.version,
          sha256: running.model.sha256,
          createdAt: running.createdAt,
        },
        rolledBack: new Set(store.state.rolledBack),
        ...(store.state.lastRollback ? { lastRollback: store.state.lastRollback } : {}),
        threads: this.opts.threads,
        runtime: this.opts.runtime ?? "auto",
      });
    } catch (err) {
      const id = envelopeId(payload);
      if (id !== undefined && id === store.state.lastReportId) return; // redelivered, said already
      const version = pushedVersion(payload);
      logger.warn("rollout: bundle rejected", {
        topic,
        version,
        code: errorCode(err),
        reason: (err as Error).message,
      });
      await this.report("rejected", {
        ...(version ? { version } : {}),
        ...(id ? { id } : {}),
        code: errorCode(err),
        reason: (err as Error).message,
      });
      return;
    }
    if (cand.kind === "current") {
      if (cand.id === store.state.lastReportId) return;
      logger.info("rollout: this model is already running", { version: cand.manifest.version });
      await this.report("applied", {
        version: cand.manifest.version,
        sha256: cand.manifest.model.sha256,
        id: cand.id,
        reason: "already running",
      });
      return;
    }
    if (this.stopped) {
      await cand.runner.release();
      return;
    }
    const { manifest } = cand;
    try {
      const name = await store.install(manifest, cand.model);
      await store.activate(
        name,
        this.opts.probationMs > 0
          ? {
              version: manifest.version,
              sha256: manifest.model.sha256,
              id: cand.id,
              until: this.now() + this.opts.probationMs,
            }
          : undefined,
      );
      if (cand.rollbackIssuedAt) await store.saveState({ lastRollback: cand.rollbackIssuedAt });
    } catch (err) {
      await cand.runner.release();
      const reason = `the bundle could not be stored (${(err as Error).message}); check free space and permissions of ${store.dir}`;
      logger.error("rollout: bundle not stored", { error: err });
      await this.report("rejected", {
        version: manifest.version,
        sha256: manifest.model.sha256,
        id: cand.id,
        code: "store-failed",
        reason,
      });
      return;
    }
    await host.swap(cand.runner);
    this.modelErrors = 0;
    if (store.probation) this.startProbation(this.opts.probationMs);
    logger.info("rollout: model applied", {
      from: running.version,
      to: manifest.version,
      probation_s: this.opts.probationMs / 1000,
    });
    await this.report("applied", {
      version: manifest.version,
      sha256: manifest.model.sha256,
      id: cand.id,
      ...(cand.rollbackIssuedAt
        ? { reason: `rolled back on purpose from ${running.version}` }
        : {}),
    });
  }

  // --- probation ---

  private startProbation(ms: number): void {
    if (this.probationTimer) clearTimeout(this.probationTimer);
    this.probationTimer = setTimeout(
      () => {
        this.chain = this.chain.then(async () => {
          const p = this.opts.store.probation;
          if (!p || this.stopped) return;
          await this.opts.store.clearProbation();
          this.opts.logger.info("rollout: model passed its probation", { version: p.version });
        });
      },
      Math.max(0, ms),
    );
    this.probationTimer.unref();
  }

  private async rollBackLive(code: string, reason: string): Promise<void> {
    const { store, logger } = this.opts;
    const p = store.probation;
    if (!p || this.stopped) return;
    if (this.probationTimer) clearTimeout(this.probationTimer);
    const to = await store.rollBack(p.sha256);
    const dir = store.pathOf(to);
    try {
      const keys = to !== null || this.opts.requireInstalledSignature ? [...this.opts.keys] : [];
      const runner = await loadTrustedModel(dir, {
        keys: keys.length ? keys : [],
        threads: this.opts.threads,
        runtime: this.opts.runtime ?? "auto",
      });
      await (this.host as RolloutHost).swap(runner);
    } catch (err) {
      logger.error("rollout: the previous model cannot be loaded; keeping the failing one", {
        dir,
        error: err,
      });
    }
    logger.error("rollout: rolled back", { version: p.version, reason });
    await this.report("rolled_back", {
      version: p.version,
      sha256: p.sha256,
      id: p.id,
      code,
      reason,
    });
  }

  // --- reports ---

  private draft(status: RolloutStatus, fields: Partial<ModelStateReport>): ModelStateReport {
    return {
      device: this.opts.device,
      ...(this.opts.fleet ? { fleet: this.opts.fleet } : {}),
      status,
      ...fields,
      current: "",
      time: new Date(this.now()).toISOString(),
    };
  }

  private async report(status: RolloutStatus, fields: Partial<ModelStateReport>): Promise<void> {
    const r = this.draft(status, fields);
    r.current = (this.host as RolloutHost).manifest().version;
    this.publish(r);
    if (r.id) await this.opts.store.saveState({ lastReportId: r.id }).catch(() => {});
  }

  private publish(r: ModelStateReport): void {
    const t = this.transport;
    if (!t) return;
    t.publishRetained(this.opts.topics.state, JSON.stringify(r));
  }
}

/** The version a payload claims, for a rejection report (nothing about it is trusted). */
function pushedVersion(payload: Uint8Array): string | undefined {
  try {
    const v = (decodeEnvelope(payload).header.manifest as { version?: unknown }).version;
    return typeof v === "string" && v.length <= 64 ? v : undefined;
  } catch {
    return undefined;
  }
}

import {
  closeSync,
  fdatasyncSync,
  fstatSync,
  fsyncSync,
  ftruncateSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
  writeSync,
} from "node:fs";
import { join, resolve } from "node:path";
import type { Logger } from "../runtime/types.js";
import { MqttError } from "./errors.js";

/**
 * A persistent, bounded, in-order queue of outgoing MQTT messages, in one append-only file.
 *
 * `outbox.jsonl` holds one JSON record per line:
 * - a message: `{"seq":12,"topic":"...","payload":"...","qos":1,"retain":false}`;
 * - a head mark: `{"head":13}`: every message with a smaller seq is gone (delivered or dropped).
 *
 * Messages are appended (and fdatasync'ed unless `fsync: false`) before `append` returns. A
 * message leaves the queue only once `settle(seq)` says the broker acknowledged it; the queue
 * advances over the settled prefix only, so it never skips an unacknowledged message. When the
 * queue is empty the file is truncated; otherwise it is rewritten (atomically, by rename) once the
 * settled records outweigh the live ones. Opening replays the file: a torn last line (a crash
 * while appending) is cut off, an unreadable line anywhere is skipped with a warning; neither is
 * fatal. A lock file keeps two processes from sharing the directory.
 */

export const OUTBOX_FILE = "outbox.jsonl";
export const OUTBOX_LOCK = "outbox.lock";

export type QoS = 0 | 1 | 2;

export interface OutboundMessage {
  topic: string;
  /** UTF-8 text (JSON for everything the agent publishes). */
  payload: string;
  qos: QoS;
  retain: boolean;
}

export interface QueuedMessage extends OutboundMessage {
  /** Position in the queue; increases by one with every append. */
  readonly seq: number;
}

export interface OutboxLimits {
  /** Most messages kept; when full the oldest is dropped. Default 10 000. */
  maxMessages?: number;
  /** Most bytes of records kept; when full the oldest is dropped. Default 8 MiB. */
  maxBytes?: number;
}

export interface OutboxOptions extends OutboxLimits {
  dir: string;
  /**
   * fdatasync after every append (default true), so an accepted message survives a power cut,
   * not only a crash. Settle marks are never synced: losing one means a redelivery, which QoS 1
   * allows.
   */
  fsync?: boolean;
  /** Rewrite the file once at least this many bytes of it are dead (default 64 KiB). */
  compactBytes?: number;
  logger?: Logger;
}

export interface OutboxStats {
  /** Messages waiting (including ones sent but not yet acknowledged). */
  depth: number;
  /** Bytes of their records. */
  bytes: number;
  /** Size of the file. */
  fileBytes: number;
  /** Since this instance opened: */
  appended: number;
  delivered: number;
  dropped: number;
  /** Unreadable lines skipped when opening (a torn last line included). */
  skipped: number;
}

export const DEFAULT_MAX_MESSAGES = 10_000;
export const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;
const DEFAULT_COMPACT_BYTES = 64 * 1024;

interface Entry {
  msg: QueuedMessage;
  bytes: number;
}

/** Directories held by open outboxes of this process (the lock file says which process). */
const openHere = new Set<string>();

const messageLine = (m: QueuedMessage): string =>
  `${JSON.stringify({ seq: m.seq, topic: m.topic, payload: m.payload, qos: m.qos, retain: m.retain })}\n`;
const headLine = (head: number): string => `${JSON.stringify({ head })}\n`;

function isSeq(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function parseRecord(line: string): QueuedMessage | { head: number } | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return undefined;
  }
  if (typeof v !== "object" || v === null) return undefined;
  const r = v as Record<string, unknown>;
  if ("head" in r) return isSeq(r.head) ? { head: r.head } : undefined;
  if (
    isSeq(r.seq) &&
    typeof r.topic === "string" &&
    r.topic.length > 0 &&
    typeof r.payload === "string" &&
    (r.qos === 0 || r.qos === 1 || r.qos === 2) &&
    typeof r.retain === "boolean"
  ) {
    return { seq: r.seq, topic: r.topic, payload: r.payload, qos: r.qos, retain: r.retain };
  }
  return undefined;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function positive(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!Number.isSafeInteger(v) || v < 1) {
    throw new MqttError(
      "invalid-option",
      `outbox ${name} ${String(value)}`,
      "must be a whole number of at least 1",
    );
  }
  return v;
}

export class Outbox {
  readonly dir: string;
  readonly path: string;
  readonly maxMessages: number;
  readonly maxBytes: number;
  private readonly lockPath: string;
  private readonly fsync: boolean;
  private readonly compactBytes: number;
  private readonly logger: Logger | undefined;
  private fd: number;
  /** Live messages in seq order; `entries[start]` is the head. */
  private entries: Entry[] = [];
  private start = 0;
  /** Acknowledged but not yet at the head (an earlier one is still unacknowledged). */
  private readonly settled = new Set<number>();
  private liveBytes = 0;
  private fileBytes = 0;
  private nextSeq = 0;
  private isClosed = false;
  private counts = { appended: 0, delivered: 0, dropped: 0, skipped: 0 };

  private constructor(opts: OutboxOptions) {
    this.dir = resolve(opts.dir);
    this.path = join(this.dir, OUTBOX_FILE);
    this.lockPath = join(this.dir, OUTBOX_LOCK);
    this.maxMessages = positive("maxMessages", opts.maxMessages, DEFAULT_MAX_MESSAGES);
    this.maxBytes = positive("maxBytes", opts.maxBytes, DEFAULT_MAX_BYTES);
    this.compactBytes = positive("compactBytes", opts.compactBytes, DEFAULT_COMPACT_BYTES);
    this.fsync = opts.fsync ?? true;
    this.logger = opts.logger;
    this.fd = -1;
  }

  /** Opens (creating it if needed) and replays the outbox in `opts.dir`. */
  static open(opts: OutboxOptions): Outbox {
    const box = new Outbox(opts);
    try {
      mkdirSync(box.dir, { recursive: true });
    } catch (err) {
      throw box.ioError("cannot be created", err);
    }
    box.lock();
    try {
      box.replay();
    } catch (err) {
      box.unlock();
      throw err;
    }
    return box;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  get depth(): number {
    return this.entries.length - this.start;
  }

  stats(): OutboxStats {
    return {
      depth: this.depth,
      bytes: this.liveBytes,
      fileBytes: this.fileBytes,
      ...this.counts,
    };
  }

  /** The live messages, oldest first. */
  messages(): QueuedMessage[] {
    return this.entries.slice(this.start).map((e) => e.msg);
  }

  /** The oldest message not yet settled whose seq is greater than `after`. */
  nextAfter(after: number): QueuedMessage | undefined {
    // Binary search: seqs increase along the array.
    let lo = this.start;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.entries[mid].msg.seq <= after) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.entries.length; i++) {
      const m = this.entries[i].msg;
      if (!this.settled.has(m.seq)) return m;
    }
    return undefined;
  }

  /**
   * Appends a message, on disk before returning. When the queue would exceed its limits the
   * oldest messages are dropped (and counted) to make room. Throws "message-too-large" for a
   * message that alone exceeds `maxBytes`.
   */
  append(message: OutboundMessage): QueuedMessage {
    return this.appendAll([message])[0];
  }

  /**
   * Appends messages in order with one write (and one fdatasync). Returns those kept: if the
   * batch alone exceeds the limits, its oldest are dropped too. Throws "message-too-large"
   * (appending nothing) if one message alone exceeds `maxBytes`.
   */
  appendAll(messages: readonly OutboundMessage[]): QueuedMessage[] {
    this.assertOpen();
    let batch = messages.map((m, i) => {
      const msg: QueuedMessage = {
        seq: this.nextSeq + i,
        topic: m.topic,
        payload: m.payload,
        qos: m.qos,
        retain: m.retain,
      };
      const line = messageLine(msg);
      const bytes = Buffer.byteLength(line);
      if (bytes > this.maxBytes) {
        throw new MqttError(
          "message-too-large",
          `outbox message on ${m.topic}`,
          `takes ${bytes} bytes, more than the whole outbox may hold (${this.maxBytes}); raise the outbox's maxBytes`,
        );
      }
      return { msg, line, bytes };
    });
    if (batch.length === 0) return [];
    this.nextSeq += batch.length;
    let total = batch.reduce((n, b) => n + b.bytes, 0);
    let dropped = 0;
    while (batch.length > this.maxMessages || total > this.maxBytes) {
      total -= batch[0].bytes;
      batch = batch.slice(1);
      dropped += 1;
    }
    dropped += this.makeRoom(batch.length, total, dropped);
    // Head mark (if any) and messages in one write: a crash keeps all or a torn tail.
    const mark = dropped > 0 ? headLine(this.depth > 0 ? this.headSeq() : batch[0].msg.seq) : "";
    this.write(mark + batch.map((b) => b.line).join(""), this.fsync);
    for (const { msg, bytes } of batch) {
      this.entries.push({ msg, bytes });
      this.liveBytes += bytes;
    }
    this.counts.appended += batch.length;
    if (dropped > 0) this.maybeCompact();
    return batch.map((b) => b.msg);
  }

  /**
   * Marks a message acknowledged. The queue advances over the acknowledged prefix; a seq that is
   * no longer queued (dropped meanwhile) is ignored. Returns how many messages left the queue.
   */
  settle(seq: number): number {
    if (this.isClosed || this.depth === 0 || seq < this.entries[this.start].msg.seq) return 0;
    if (seq >= this.nextSeq) return 0;
    this.settled.add(seq);
    let removed = 0;
    while (this.depth > 0 && this.settled.has(this.entries[this.start].msg.seq)) {
      const e = this.entries[this.start];
      this.settled.delete(e.msg.seq);
      this.removeHead(e);
      removed += 1;
    }
    if (removed > 0) {
      this.counts.delivered += removed;
      this.afterRemoval();
    }
    return removed;
  }

  /** Releases the file and the lock; queued messages stay on disk for the next instance. */
  close(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    try {
      closeSync(this.fd);
    } finally {
      this.unlock();
    }
  }

  // --- internals ---

  private headSeq(): number {
    return this.depth > 0 ? this.entries[this.start].msg.seq : this.nextSeq;
  }

  private removeHead(e: Entry): void {
    this.start += 1;
    this.liveBytes -= e.bytes;
    if (this.start > 1024 && this.start * 2 > this.entries.length) {
      this.entries = this.entries.slice(this.start);
      this.start = 0;
    }
  }

  /**
   * Drops the oldest messages until `count` more messages of `bytes` fit; `alsoDropped` (from
   * the batch itself) only joins the log line. Returns how many queued messages it dropped.
   */
  private makeRoom(count: number, bytes: number, alsoDropped = 0): number {
    let dropped = 0;
    while (
      this.depth > 0 &&
      (this.depth + count > this.maxMessages || this.liveBytes + bytes > this.maxBytes)
    ) {
      const e = this.entries[this.start];
      this.settled.delete(e.msg.seq);
      this.removeHead(e);
      dropped += 1;
    }
    if (dropped + alsoDropped > 0) {
      this.counts.dropped += dropped + alsoDropped;
      this.logger?.warn("mqtt outbox full: dropped the oldest messages", {
        dropped: dropped + alsoDropped,
        maxMessages: this.maxMessages,
        maxBytes: this.maxBytes,
        dir: this.dir,
      });
    }
    return dropped;
  }

  private afterRemoval(): void {
    if (this.depth === 0) {
      // Everything delivered: start the file afresh.
      this.entries = [];
      this.start = 0;
      this.settled.clear();
      try {
        ftruncateSync(this.fd, 0);
      } catch (err) {
        throw this.ioError("cannot be truncated", err);
      }
      this.fileBytes = 0;
      return;
    }
    this.write(headLine(this.headSeq()), false);
    this.maybeCompact();
  }

  private maybeCompact(): void {
    const dead = this.fileBytes - this.liveBytes;
    if (dead >= this.compactBytes && dead >= this.liveBytes) this.rewrite();
  }

  private write(text: string, sync: boolean): void {
    try {
      const buf = Buffer.from(text, "utf8");
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off);
      if (sync) fdatasyncSync(this.fd);
      this.fileBytes += buf.length;
    } catch (err) {
      throw this.ioError("cannot be written", err);
    }
  }

  /** Replaces the file with the live messages only: a new file, synced, renamed over the old. */
  private rewrite(): void {
    const tmp = `${this.path}.${process.pid}.tmp`;
    const text = this.entries
      .slice(this.start)
      .map((e) => messageLine(e.msg))
      .join("");
    try {
      const fd = openSync(tmp, "w");
      try {
        writeSync(fd, text);
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      renameSync(tmp, this.path);
      this.syncDir();
    } catch (err) {
      rmSync(tmp, { force: true });
      throw this.ioError("cannot be compacted", err);
    }
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = this.openAppend();
    this.fileBytes = Buffer.byteLength(text);
  }

  private syncDir(): void {
    try {
      const dfd = openSync(this.dir, "r");
      try {
        fsyncSync(dfd);
      } finally {
        closeSync(dfd);
      }
    } catch {
      // Not every platform can sync a directory; the rename is still atomic.
    }
  }

  private openAppend(): number {
    try {
      return openSync(this.path, "a");
    } catch (err) {
      throw this.ioError("cannot be opened", err);
    }
  }

  private replay(): void {
    let raw: Buffer;
    try {
      raw = readFileSync(this.path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "ENOENT")
        throw this.ioError("cannot be read", err);
      raw = Buffer.alloc(0);
    }
    const complete = raw.lastIndexOf(0x0a) + 1;
    let needsRewrite = false;
    if (complete < raw.length) {
      this.counts.skipped += 1;
      needsRewrite = true;
      this.logger?.warn("mqtt outbox: skipped a torn last line (the process stopped mid-write)", {
        path: this.path,
        bytes: raw.length - complete,
      });
    }
    let head = 0;
    const messages: QueuedMessage[] = [];
    const lines = raw.subarray(0, complete).toString("utf8").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i];
      if (line.length === 0) continue;
      const rec = parseRecord(line);
      const last = messages.length > 0 ? messages[messages.length - 1].seq : -1;
      if (rec === undefined || ("seq" in rec && rec.seq <= last)) {
        this.counts.skipped += 1;
        needsRewrite = true;
        this.logger?.warn("mqtt outbox: skipped an unreadable line", {
          path: this.path,
          line: i + 1,
        });
        continue;
      }
      if ("seq" in rec) messages.push(rec);
      else head = Math.max(head, rec.head);
    }
    const live = messages.filter((m) => m.seq >= head);
    for (const msg of live) {
      const bytes = Buffer.byteLength(messageLine(msg));
      this.entries.push({ msg, bytes });
      this.liveBytes += bytes;
    }
    this.nextSeq = Math.max(head, messages.length > 0 ? messages[messages.length - 1].seq + 1 : 0);
    // Limits may have shrunk since the file was written.
    if (this.makeRoom(0, 0) > 0) needsRewrite = true;
    if (live.length !== messages.length) needsRewrite = true;
    if (needsRewrite) {
      this.rewrite();
    } else {
      this.fd = this.openAppend();
      this.fileBytes = fstatSync(this.fd).size;
    }
    if (this.depth > 0) {
      this.logger?.info("mqtt outbox: messages from a previous run are waiting", {
        depth: this.depth,
        path: this.path,
      });
    }
  }

  private lock(): void {
    if (openHere.has(this.dir)) {
      throw new MqttError(
        "outbox-locked",
        this.dir,
        "is already used by another outbox of this process; close it first or give each publisher its own directory",
      );
    }
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        writeFileSync(this.lockPath, `${process.pid}\n`, { flag: "wx" });
        openHere.add(this.dir);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
          throw this.ioError("cannot be locked", err);
        }
      }
      let pid = Number.NaN;
      try {
        pid = Number.parseInt(readFileSync(this.lockPath, "utf8"), 10);
      } catch {
        // Vanished or unreadable: treat as stale.
      }
      // A lock left by this very pid is stale too: a restarted container's agent is often pid 1.
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && pidAlive(pid)) {
        throw new MqttError(
          "outbox-locked",
          this.dir,
          `is in use by process ${pid}; stop it, or give this agent another outbox directory`,
        );
      }
      this.logger?.info("mqtt outbox: taking over a stale lock", { path: this.lockPath, pid });
      rmSync(this.lockPath, { force: true });
    }
    throw new MqttError(
      "outbox-locked",
      this.dir,
      "could not be locked (another process keeps taking it); make sure one agent uses it",
    );
  }

  private unlock(): void {
    openHere.delete(this.dir);
    rmSync(this.lockPath, { force: true });
  }

  private assertOpen(): void {
    if (this.isClosed) {
      throw new MqttError("closed", this.dir, "the outbox is closed; open a new one to queue more");
    }
  }

  private ioError(what: string, err: unknown): MqttError {
    const code = (err as NodeJS.ErrnoException).code ?? String(err);
    return new MqttError(
      "outbox-io",
      this.path,
      `${what} (${code}); check that the directory exists, is writable and the disk is not full`,
      { cause: err },
    );
  }
}

/**
 * The bounded queue between voice activity detection and the model. Utterances wait here while
 * the one worker runs the previous one through the model (one ONNX session: runs never overlap).
 * When inference falls behind live audio the queue fills up, and the OLDEST waiting utterance is
 * dropped (and counted) to make room: the newest speech is the one worth reporting late.
 *
 * A producer that can wait (a file played as fast as possible) calls `waitForRoom()` before each
 * push instead, so nothing is dropped.
 */

export interface InferenceQueueOptions<T> {
  /** Items that may wait (the one being processed not included); at least 1. */
  capacity: number;
  /** Processes one item; items are processed one at a time, in order. */
  run: (item: T) => Promise<void>;
  /** Called with each item dropped to make room. */
  onDrop?: (item: T) => void;
  /** Called when `run` rejects; the queue goes on with the next item. */
  onError?: (error: unknown, item: T) => void;
}

export interface InferenceQueueStats {
  /** Items waiting now. */
  depth: number;
  /** Whether an item is being processed now. */
  busy: boolean;
  pushed: number;
  /** Items processed (successfully or not). */
  processed: number;
  failed: number;
  /** Items dropped because the queue was full (or abandoned by close()). */
  dropped: number;
}

export class InferenceQueue<T> {
  readonly capacity: number;
  private readonly items: T[] = [];
  private running = false;
  private isClosed = false;
  private readonly counts = { pushed: 0, processed: 0, failed: 0, dropped: 0 };
  private idleWaiters: (() => void)[] = [];
  private roomWaiters: (() => void)[] = [];

  constructor(private readonly opts: InferenceQueueOptions<T>) {
    if (!Number.isInteger(opts.capacity) || opts.capacity < 1) {
      throw new RangeError(`queue capacity must be an integer of at least 1, got ${opts.capacity}`);
    }
    this.capacity = opts.capacity;
  }

  get depth(): number {
    return this.items.length;
  }

  get busy(): boolean {
    return this.running;
  }

  /** After close(): push() throws. */
  get closed(): boolean {
    return this.isClosed;
  }

  /** Nothing waiting and nothing running. */
  get idle(): boolean {
    return !this.running && this.items.length === 0;
  }

  stats(): InferenceQueueStats {
    return { depth: this.items.length, busy: this.running, ...this.counts };
  }

  /**
   * Queues an item and starts the worker if it is idle. If the queue is full, the oldest waiting
   * item is dropped first and returned. Throws after close().
   */
  push(item: T): T | undefined {
    if (this.isClosed) throw new Error("the inference queue is closed");
    let dropped: T | undefined;
    if (this.items.length >= this.capacity) {
      dropped = this.items.shift();
      if (dropped !== undefined) this.drop(dropped);
    }
    this.items.push(item);
    this.counts.pushed++;
    if (!this.running) void this.work();
    return dropped;
  }

  /** Resolves once an item can be pushed without dropping one. */
  waitForRoom(): Promise<void> {
    if (this.items.length < this.capacity || this.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.roomWaiters.push(resolve));
  }

  /** Resolves true once nothing waits or runs, false if `timeoutMs` passes first. */
  drain(timeoutMs = Number.POSITIVE_INFINITY): Promise<boolean> {
    if (this.idle) return Promise.resolve(true);
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        if (timer) clearTimeout(timer);
        resolve(true);
      };
      this.idleWaiters.push(done);
      if (Number.isFinite(timeoutMs)) {
        timer = setTimeout(
          () => {
            this.idleWaiters = this.idleWaiters.filter((w) => w !== done);
            resolve(false);
          },
          Math.max(0, timeoutMs),
        );
      }
    });
  }

  /**
   * Refuses further pushes and drops (and counts) what still waits; the item being processed
   * finishes. Returns the items dropped.
   */
  close(): T[] {
    this.isClosed = true;
    const abandoned = this.items.splice(0);
    for (const item of abandoned) this.drop(item);
    this.wakeRoom();
    if (this.idle) this.wakeIdle();
    return abandoned;
  }

  private drop(item: T): void {
    this.counts.dropped++;
    try {
      this.opts.onDrop?.(item);
    } catch {
      // A failing observer must not break the queue.
    }
  }

  private async work(): Promise<void> {
    this.running = true;
    try {
      for (let item = this.items.shift(); item !== undefined; item = this.items.shift()) {
        this.wakeRoom();
        try {
          await this.opts.run(item);
        } catch (err) {
          this.counts.failed++;
          try {
            this.opts.onError?.(err, item);
          } catch {
            // as above
          }
        }
        this.counts.processed++;
      }
    } finally {
      this.running = false;
    }
    this.wakeIdle();
  }

  private wakeRoom(): void {
    if (this.items.length >= this.capacity && !this.isClosed) return;
    const waiters = this.roomWaiters;
    this.roomWaiters = [];
    for (const w of waiters) w();
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }
}

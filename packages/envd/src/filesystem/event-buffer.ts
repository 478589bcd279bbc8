/**
 * Buffers between a watcher and whoever reads its events: a bounded FIFO (a stalled
 * reader costs at most `capacity` events of memory; the oldest are dropped first) and an
 * async-iterable channel on top of it for streaming responses.
 */

export const DEFAULT_EVENT_CAPACITY = 10_000;

export class BoundedQueue<T> {
  private items: T[] = [];
  /** Items dropped because the queue was full since the last `takeDropped()`. */
  private dropped = 0;

  constructor(readonly capacity = DEFAULT_EVENT_CAPACITY) {}

  get length(): number {
    return this.items.length;
  }

  push(item: T): void {
    if (this.items.length >= this.capacity) {
      this.items.shift();
      this.dropped++;
    }
    this.items.push(item);
  }

  shift(): T | undefined {
    return this.items.shift();
  }

  /** Removes and returns everything queued. */
  takeAll(): T[] {
    const all = this.items;
    this.items = [];
    return all;
  }

  takeDropped(): number {
    const n = this.dropped;
    this.dropped = 0;
    return n;
  }
}

/**
 * A single-reader channel: producers `push`, the reader iterates until `end()` (or the
 * error given to `end(err)`, thrown after the queued items).
 */
export class EventChannel<T> implements AsyncIterable<T> {
  private readonly queue: BoundedQueue<T>;
  private wake: (() => void) | undefined;
  private ended = false;
  private error: unknown;

  constructor(capacity = DEFAULT_EVENT_CAPACITY) {
    this.queue = new BoundedQueue<T>(capacity);
  }

  push(item: T): void {
    if (this.ended) return;
    this.queue.push(item);
    this.notify();
  }

  end(err?: unknown): void {
    if (this.ended) return;
    this.ended = true;
    this.error = err;
    this.notify();
  }

  takeDropped(): number {
    return this.queue.takeDropped();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    while (true) {
      if (this.queue.length > 0) {
        yield this.queue.shift()!;
        continue;
      }
      if (this.ended) {
        if (this.error !== undefined) throw this.error;
        return;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
    }
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = undefined;
    wake?.();
  }
}

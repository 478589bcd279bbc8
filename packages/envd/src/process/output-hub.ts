/**
 * Fan-out of one process's output to its clients, with memory bounded on both paths:
 * - nobody attached: output goes to a backlog of at most `backlogBytes` (oldest bytes
 *   dropped), handed to the next client that attaches ("what it missed since the last
 *   delivery");
 * - clients attached: each gets every event in its own queue; when any queue grows past
 *   HIGH_WATER_BYTES the child is paused (it blocks on a full pipe/PTY) until every queue
 *   is back under LOW_WATER_BYTES, so huge outputs stream at the client's pace.
 * The end event is cached (docs/decisions.md#e1): a client attaching after the exit gets the backlog and
 * the end at once.
 */
import { Deque } from './deque.js';
import type { OutputStream } from './child.js';
import type { EndInfo } from './exit-status.js';

export type OutputEvent =
  | { readonly type: 'data'; readonly stream: OutputStream; readonly data: Buffer }
  | { readonly type: 'end'; readonly end: EndInfo }
  | { readonly type: 'keepalive' };

type DataEvent = Extract<OutputEvent, { type: 'data' }>;

/** Per-client queue size that pauses the child, and the size that resumes it. */
export const HIGH_WATER_BYTES = 1024 * 1024;
export const LOW_WATER_BYTES = 256 * 1024;
/** Consecutive chunks of one stream are merged up to this size per event. */
const MAX_EVENT_BYTES = 64 * 1024;

export interface FlowControl {
  pause(): void;
  resume(): void;
}

export class OutputHub {
  private readonly backlog = new Deque<DataEvent>();
  private backlogBytes = 0;
  private readonly subscribers = new Set<Subscription>();
  private endInfo: EndInfo | undefined;
  private paused = false;

  constructor(
    private readonly backlogLimitBytes: number,
    private readonly flow: FlowControl,
  ) {}

  get end(): EndInfo | undefined {
    return this.endInfo;
  }

  get subscriberCount(): number {
    return this.subscribers.size;
  }

  publish(stream: OutputStream, data: Buffer): void {
    if (this.endInfo || data.length === 0) return;
    const event: DataEvent = { type: 'data', stream, data };
    if (this.subscribers.size === 0) {
      this.keep(event);
      return;
    }
    let congested = false;
    for (const sub of this.subscribers) congested = sub.push(event) > HIGH_WATER_BYTES || congested;
    if (congested && !this.paused) {
      this.paused = true;
      this.flow.pause();
    }
  }

  /** Records the terminal event and hands it to every client; their streams then end. */
  finish(end: EndInfo): void {
    if (this.endInfo) return;
    this.endInfo = end;
    for (const sub of this.subscribers) sub.pushEnd(end);
    this.subscribers.clear();
    this.paused = false;
  }

  /**
   * Attaches a client: it first gets the backlog, then live events. Attaching and checking
   * the cached end happen in one synchronous step, so no event can fall in between (docs/decisions.md#e1).
   */
  subscribe(): Subscription {
    const sub = new Subscription(this);
    for (const event of this.backlog.drain()) sub.push(event);
    this.backlogBytes = 0;
    if (this.endInfo) sub.pushEnd(this.endInfo);
    else this.subscribers.add(sub);
    return sub;
  }

  /** Called by a subscription whose queue shrank; resumes the child once all are drained. */
  relieve(): void {
    if (!this.paused) return;
    for (const sub of this.subscribers) if (sub.queuedBytes > LOW_WATER_BYTES) return;
    this.paused = false;
    this.flow.resume();
  }

  /** Called when a client goes away; output it never received is kept for the next one. */
  detach(sub: Subscription, undelivered: DataEvent[]): void {
    if (!this.subscribers.delete(sub)) return;
    if (this.subscribers.size === 0 && !this.endInfo) {
      for (let i = undelivered.length - 1; i >= 0; i--) {
        const event = undelivered[i]!;
        this.backlog.unshift(event);
        this.backlogBytes += event.data.length;
      }
      this.trimBacklog();
    }
    this.relieve();
  }

  private keep(event: DataEvent): void {
    this.backlog.push(event);
    this.backlogBytes += event.data.length;
    this.trimBacklog();
  }

  /** Drops the oldest bytes until the backlog fits its limit (cutting a chunk if needed). */
  private trimBacklog(): void {
    while (this.backlogBytes > this.backlogLimitBytes) {
      const first = this.backlog.peek()!;
      const excess = this.backlogBytes - this.backlogLimitBytes;
      if (first.data.length <= excess) {
        this.backlog.shift();
        this.backlogBytes -= first.data.length;
      } else {
        this.backlog.shift();
        this.backlog.unshift({ ...first, data: first.data.subarray(excess) });
        this.backlogBytes -= excess;
      }
    }
  }
}

/** One client's view of a process's output: an async queue of events. */
export class Subscription {
  private readonly queue = new Deque<OutputEvent>();
  private queued = 0;
  private ended = false;
  private detached = false;
  private wake: (() => void) | undefined;

  constructor(private readonly hub: OutputHub) {}

  /** Bytes of output queued and not yet taken by the client. */
  get queuedBytes(): number {
    return this.queued;
  }

  /** Queues an event; returns the bytes now queued. */
  push(event: DataEvent): number {
    this.queue.push(event);
    this.queued += event.data.length;
    this.notify();
    return this.queued;
  }

  pushEnd(end: EndInfo): void {
    this.queue.push({ type: 'end', end });
    this.ended = true;
    this.notify();
  }

  /** Queues a keep-alive for the client (nothing for the child). */
  keepalive(): void {
    if (this.ended || this.detached) return;
    this.queue.push({ type: 'keepalive' });
    this.notify();
  }

  /**
   * The next event, waiting for one if needed; undefined once the end event has been
   * taken, after close(), or when `signal` aborts.
   */
  async next(signal?: AbortSignal): Promise<OutputEvent | undefined> {
    while (true) {
      const event = this.take();
      if (event) return event;
      if (this.ended || this.detached || signal?.aborted) return undefined;
      await new Promise<void>((resolve) => {
        const done = () => {
          signal?.removeEventListener('abort', done);
          this.wake = undefined;
          resolve();
        };
        this.wake = done;
        signal?.addEventListener('abort', done, { once: true });
      });
    }
  }

  /** Detaches from the process (the process keeps running). Idempotent. */
  close(): void {
    if (this.detached) return;
    this.detached = true;
    const undelivered: DataEvent[] = [];
    for (const event of this.queue.drain()) if (event.type === 'data') undelivered.push(event);
    this.queued = 0;
    this.hub.detach(this, undelivered);
    this.notify();
  }

  private take(): OutputEvent | undefined {
    const first = this.queue.shift();
    if (!first || first.type !== 'data') return first;
    // Merge what the child wrote in small pieces into fewer, larger events.
    let merged: DataEvent = first;
    const parts: Buffer[] = [first.data];
    let size = first.data.length;
    while (true) {
      const next = this.queue.peek();
      if (!next || next.type !== 'data' || next.stream !== first.stream || size + next.data.length > MAX_EVENT_BYTES) break;
      this.queue.shift();
      parts.push(next.data);
      size += next.data.length;
    }
    if (parts.length > 1) merged = { type: 'data', stream: first.stream, data: Buffer.concat(parts, size) };
    this.queued -= size;
    this.hub.relieve();
    return merged;
  }

  private notify(): void {
    this.wake?.();
  }
}

/**
 * A JSON message channel over one WebSocket, with bounded buffers in both directions (docs/decisions.md#c3):
 * - inbound: every frame is parsed into a queue as it arrives, so reading the socket never
 *   waits for whatever the consumer does with a message (docs/decisions.md#c2); when the queue holds
 *   `maxQueued` messages the socket is paused (TCP back-pressure to the client), never
 *   emptied by dropping. Frames ws already read before the pause are still queued, so
 *   the bound is `maxQueued` messages plus one socket read (64 KiB);
 * - outbound: `send()` resolves at once while fewer than `maxQueued` messages are waiting
 *   to be written to the socket, else when the client has caught up, so a producer that
 *   awaits it (the agent stream pump) stops reading its source instead of buffering.
 * It also sends `{type:"ping"}` every `pingIntervalMs` and terminates a peer that stopped
 * answering WebSocket pings, so a vanished client cannot hold a session forever.
 */
import type { WebSocket, RawData } from 'ws';
import { WrennError, wireError } from '@wrenn/shared';

export const DEFAULT_MAX_QUEUED = 256;

/** A parsed client message, or why it could not be parsed. */
export type Inbound = { readonly value: { readonly type: string; readonly [k: string]: unknown } } | { readonly invalid: string };

export const TIMED_OUT = Symbol('timed out');

/** WebSocket close code of an error: 4000 + its HTTP status (4401, 4404, 4409, ...). */
export function closeCodeOf(err: WrennError): number {
  const code = 4000 + err.httpStatus;
  return code >= 4000 && code <= 4999 ? code : 4500;
}

/** Close reasons are limited to 123 bytes by the protocol. */
function closeReason(message: string): string {
  const buf = Buffer.from(message, 'utf8');
  return buf.length <= 123 ? message : `${buf.subarray(0, 120).toString('utf8').replace(/\uFFFD+$/, '')}...`;
}

function parse(data: RawData): Inbound {
  const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { invalid: `message is not JSON (${(err as Error).message}); send objects like {"type":"input","data":"..."}` };
  }
  if (typeof value !== 'object' || value === null || typeof (value as { type?: unknown }).type !== 'string') {
    return { invalid: 'message must be a JSON object with a string "type"' };
  }
  return { value: value as { type: string } };
}

export interface WsChannelOptions {
  pingIntervalMs: number;
  maxQueued?: number;
}

export class WsChannel {
  private readonly inbox: Inbound[] = [];
  private waiter: ((m: Inbound | undefined) => void) | undefined;
  private paused = false;
  private inflight = 0;
  private drainWaiters: Array<() => void> = [];
  private readonly closeCallbacks: Array<() => void> = [];
  private readonly maxQueued: number;
  private readonly pingTimer: NodeJS.Timeout;
  private peerAlive = true;
  private isClosed = false;
  /** Revoked: nothing more is taken from the client (see `revoke`). */
  private refusing = false;

  constructor(
    readonly socket: WebSocket,
    opts: WsChannelOptions,
  ) {
    this.maxQueued = opts.maxQueued ?? DEFAULT_MAX_QUEUED;
    socket.on('message', (data) => this.receive(parse(data)));
    socket.on('pong', () => {
      this.peerAlive = true;
    });
    socket.on('close', () => this.onSocketClosed());
    this.pingTimer = setInterval(() => this.keepAlive(), opts.pingIntervalMs);
    this.pingTimer.unref();
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Messages received and not yet taken. */
  get queued(): number {
    return this.inbox.length;
  }

  /** Runs `cb` once the socket is closed (at once if it already is). */
  onClose(cb: () => void): void {
    if (this.isClosed) cb();
    else this.closeCallbacks.push(cb);
  }

  /**
   * The next client message; `undefined` once the socket is closed and every message
   * received before the close has been taken; TIMED_OUT after `timeoutMs` without one.
   */
  next(timeoutMs?: number): Promise<Inbound | undefined | typeof TIMED_OUT> {
    const ready = this.take();
    if (ready || this.isClosed || this.refusing) return Promise.resolve(ready);
    return new Promise((resolve) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => {
        this.waiter = undefined;
        resolve(TIMED_OUT);
      }, timeoutMs);
      this.waiter = (m) => {
        clearTimeout(timer);
        this.waiter = undefined;
        resolve(m);
      };
    });
  }

  /** Takes the next message only if it is already queued and `accept` says yes (batching). */
  takeIf(accept: (m: Inbound) => boolean): Inbound | undefined {
    const head = this.inbox[0];
    return head && accept(head) ? this.take() : undefined;
  }

  /** Sends a JSON message; resolves when the outbound buffer has room again (docs/decisions.md#c3). */
  async send(message: object): Promise<void> {
    if (this.isClosed || this.socket.readyState !== this.socket.OPEN) return;
    this.inflight++;
    this.socket.send(JSON.stringify(message), () => {
      this.inflight--;
      if (this.inflight < this.maxQueued) this.releaseDrainWaiters();
    });
    if (this.inflight >= this.maxQueued) await new Promise<void>((resolve) => this.drainWaiters.push(resolve));
  }

  /** Sends `{type:"error", code, reason, message, fatal: true}` (as REST's error) and closes with 4000 + HTTP status. */
  async fail(err: WrennError, extra: Record<string, unknown> = {}): Promise<void> {
    await this.send({ type: 'error', ...wireError(err), fatal: true, ...extra });
    this.close(closeCodeOf(err), err.message);
  }

  /**
   * Ends the conversation at once, for a client that lost the right to it (credentials
   * revoked): messages received and not yet taken are dropped, later ones ignored, and the
   * next `next()` gets undefined, so nothing the client sent reaches the capsule any more.
   * Then fails with `err`.
   */
  async revoke(err: WrennError): Promise<void> {
    this.refusing = true;
    this.inbox.length = 0;
    if (this.waiter) this.waiter(undefined);
    // A socket paused by back-pressure must read again, or the close handshake waits for ws's timeout.
    if (this.paused) {
      this.paused = false;
      this.socket.resume();
    }
    await this.fail(err);
  }

  close(code = 1000, reason = ''): void {
    if (this.socket.readyState === this.socket.OPEN || this.socket.readyState === this.socket.CONNECTING) this.socket.close(code, closeReason(reason));
  }

  private receive(m: Inbound): void {
    if (this.refusing) return;
    if (this.waiter) {
      this.waiter(m);
      return;
    }
    this.inbox.push(m);
    if (!this.paused && this.inbox.length >= this.maxQueued) {
      this.paused = true;
      this.socket.pause();
    }
  }

  private take(): Inbound | undefined {
    const m = this.inbox.shift();
    if (this.paused && this.inbox.length < this.maxQueued / 2) {
      this.paused = false;
      this.socket.resume();
    }
    return m;
  }

  private keepAlive(): void {
    if (this.socket.readyState !== this.socket.OPEN) return;
    // A paused socket does not read the peer's pongs: not answering is then our doing.
    if (!this.peerAlive && !this.paused) {
      this.socket.terminate();
      return;
    }
    this.peerAlive = false;
    this.socket.ping();
    this.socket.send(JSON.stringify({ type: 'ping' }));
  }

  private releaseDrainWaiters(): void {
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }

  private onSocketClosed(): void {
    if (this.isClosed) return;
    this.isClosed = true;
    clearInterval(this.pingTimer);
    this.releaseDrainWaiters();
    // A paused socket must be resumed for ws to finish its close; nothing more will arrive.
    if (this.paused) this.socket.resume();
    // A waiter exists only while the inbox is empty.
    if (this.waiter) this.waiter(undefined);
    for (const cb of this.closeCallbacks.splice(0)) cb();
  }
}

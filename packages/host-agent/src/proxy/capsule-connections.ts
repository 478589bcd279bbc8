/**
 * Every proxied exchange (one HTTP request and its response, or one upgraded tunnel) is
 * owned by its capsule: a per-capsule set, so a pause can drain them (docs/decisions.md#h1) and a destroy
 * can close them, and a per-capsule keep-alive pool to the capsule's ports, so one slow
 * capsule never holds sockets another needs (docs/decisions.md#h9, #h10: cached per capsule, evicted on
 * destroy and pause).
 *
 * @example
 * const exchange = connections.admit(capsuleId); // throws while the capsule drains
 * exchange.own(clientSocket, upstreamSocket);
 * res.once('close', () => exchange.end());
 * await connections.drain(capsuleId, 5000, signal); // before the dump
 */
import { Agent as HttpAgent } from 'node:http';
import type { Duplex } from 'node:stream';
import { WrennError } from '@wrenn/shared';

/** One proxied request or tunnel. */
export interface Exchange {
  readonly capsuleId: string;
  /** Sockets destroyed when the exchange is force-closed (client side, capsule side). */
  own(...sockets: Duplex[]): void;
  /** The exchange finished (or failed) by itself. Idempotent. */
  end(): void;
  /** Ended or force-closed: nothing more may be opened for it (a dial retry stops here). */
  readonly closed: boolean;
}

interface CapsuleEntry {
  exchanges: Set<ExchangeImpl>;
  pool: HttpAgent | undefined;
  draining: boolean;
  /** Resolved whenever an exchange ends while a drain waits. */
  onEnd: (() => void) | undefined;
}

class ExchangeImpl implements Exchange {
  private readonly sockets = new Set<Duplex>();
  private ended = false;

  constructor(
    readonly capsuleId: string,
    private readonly release: (e: ExchangeImpl) => void,
  ) {}

  get closed(): boolean {
    return this.ended;
  }

  own(...sockets: Duplex[]): void {
    for (const s of sockets) {
      // Opened after a force-close (a dial that was under way): it must not outlive it.
      if (this.ended) s.destroy();
      else this.sockets.add(s);
    }
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.sockets.clear();
    this.release(this);
  }

  /** Force-close: every socket goes; whoever waits on them sees an abort, not a clean end. */
  destroy(): void {
    for (const s of this.sockets) s.destroy();
    this.end();
  }
}

export interface DrainOutcome {
  /** Exchanges that finished by themselves within the grace. */
  finished: number;
  /** Exchanges still open after the grace (or the caller's abort), destroyed. */
  forceClosed: number;
}

export class CapsuleConnections {
  private readonly capsules = new Map<string, CapsuleEntry>();

  private entry(capsuleId: string): CapsuleEntry {
    let e = this.capsules.get(capsuleId);
    if (!e) this.capsules.set(capsuleId, (e = { exchanges: new Set(), pool: undefined, draining: false, onEnd: undefined }));
    return e;
  }

  /** Registers a new exchange for the capsule; refused while it drains (the pause is under way). */
  admit(capsuleId: string): Exchange {
    const e = this.entry(capsuleId);
    if (e.draining) {
      throw new WrennError('capsule_unreachable', `capsule ${capsuleId} is being paused: new proxied connections are refused; retry once it runs again`, {
        capsuleId,
        status: 'pausing',
      });
    }
    const x = new ExchangeImpl(capsuleId, (done) => {
      e.exchanges.delete(done);
      e.onEnd?.();
      this.forgetIfUnused(capsuleId, e);
    });
    e.exchanges.add(x);
    return x;
  }

  /** The capsule's keep-alive pool for requests to its ports. */
  pool(capsuleId: string): HttpAgent {
    const e = this.entry(capsuleId);
    // `timeout` only ever closes idle pooled sockets (node's agent destroys a socket that
    // times out while free); a server's Keep-Alive hint shortens it further.
    e.pool ??= new HttpAgent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 16, timeout: 15_000 });
    return e.pool;
  }

  /** Open exchanges of the capsule. */
  count(capsuleId: string): number {
    return this.capsules.get(capsuleId)?.exchanges.size ?? 0;
  }

  /** Open exchanges of every capsule (tests, shutdown). */
  total(): number {
    let n = 0;
    for (const e of this.capsules.values()) n += e.exchanges.size;
    return n;
  }

  /**
   * docs/decisions.md#h1: refuses new exchanges, lets open ones finish within `graceMs` (or until `signal`
   * aborts), then destroys the rest and the capsule's idle pooled sockets, so no connection
   * of ours is left for the dump to find. New exchanges are refused again from then on by
   * the capsule's status (pausing), which the caller set before draining.
   */
  async drain(capsuleId: string, graceMs: number, signal?: AbortSignal): Promise<DrainOutcome> {
    const e = this.entry(capsuleId);
    e.draining = true;
    const initial = e.exchanges.size;
    try {
      if (e.exchanges.size > 0 && graceMs > 0 && !signal?.aborted) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, graceMs);
          signal?.addEventListener('abort', done, { once: true });
          e.onEnd = () => {
            if (e.exchanges.size === 0) done();
          };
          function done() {
            clearTimeout(timer);
            signal?.removeEventListener('abort', done);
            resolve();
          }
        });
      }
      e.onEnd = undefined;
      const forceClosed = e.exchanges.size;
      for (const x of [...e.exchanges]) x.destroy();
      e.pool?.destroy();
      e.pool = undefined;
      return { finished: initial - forceClosed, forceClosed };
    } finally {
      e.onEnd = undefined;
      e.draining = false;
      this.forgetIfUnused(capsuleId, e);
    }
  }

  /** Destroy: every exchange and pooled socket of the capsule goes at once. */
  close(capsuleId: string): void {
    const e = this.capsules.get(capsuleId);
    if (!e) return;
    for (const x of [...e.exchanges]) x.destroy();
    e.pool?.destroy();
    this.capsules.delete(capsuleId);
  }

  /** Agent shutdown. */
  closeAll(): void {
    for (const id of [...this.capsules.keys()]) this.close(id);
  }

  private forgetIfUnused(capsuleId: string, e: CapsuleEntry): void {
    if (e.exchanges.size === 0 && !e.pool && !e.draining && this.capsules.get(capsuleId) === e) this.capsules.delete(capsuleId);
  }
}

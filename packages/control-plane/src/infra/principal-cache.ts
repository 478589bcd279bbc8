/**
 * Credentials → principal, remembered for a few seconds so an authenticated call costs no
 * database query (API key lookup, user + membership lookup) and no JWT verification.
 *
 * Freshness: an entry lives at most `ttlMs` (WRENN_AUTH_CACHE_TTL_SEC, default 5 s; 0
 * turns the cache off), and never past the JWT's own expiry. Changes made through this
 * control plane (key revoked, member removed or re-roled, user disabled or deleted, team
 * deleted) clear the whole cache at once; a user's sessions revoked (password changed,
 * logout-all, admin reset) drop that user's entries (`forget`). Changes made elsewhere
 * (another replica, SQL by hand) take effect within the TTL: that is the bound on how long
 * a revoked token can still work on another replica. Refusals are never cached.
 *
 * Bounded: least recently used entries go first beyond `maxEntries`. A `generation`
 * counter guards the race "lookup started, cache cleared, lookup stores its stale
 * answer": a value looked up before a clear is not stored.
 *
 * Whoever holds on to a principal beyond one call (an open WebSocket) subscribes with
 * `onInvalidate` to re-check it as soon as this replica learns of a change.
 */

interface Entry<V> {
  value: V;
  expiresAt: number;
}

export class PrincipalCache<V> {
  private readonly entries = new Map<string, Entry<V>>();
  private gen = 0;
  private readonly invalidated = new Set<() => void>();
  /** Lookups in flight, by generation and key (see `shared`). */
  private readonly inflight = new Map<string, Promise<V>>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries = 10_000,
  ) {}

  get enabled(): boolean {
    return this.ttlMs > 0;
  }

  /** Incremented by every `clear()`; pass the value read before a lookup to `set`. */
  get generation(): number {
    return this.gen;
  }

  get size(): number {
    return this.entries.size;
  }

  /**
   * Runs `cb` after every `clear()` and `forget()`, even with the cache turned off (the
   * change happened either way). `cb` runs inside the caller's call: it must not throw and
   * should only schedule work. Returns the unsubscribe.
   */
  onInvalidate(cb: () => void): () => void {
    this.invalidated.add(cb);
    return () => {
      this.invalidated.delete(cb);
    };
  }

  get(key: string, now = Date.now()): V | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    this.entries.delete(key);
    if (e.expiresAt <= now) return undefined;
    this.entries.set(key, e); // most recently used last
    return e.value;
  }

  /**
   * Stores `value` until min(now + TTL, `notAfter`), unless the cache was cleared since
   * `generation` was read (the value may predate the change that cleared it).
   */
  set(key: string, value: V, generation: number, notAfter = Infinity): void {
    if (!this.enabled || generation !== this.gen) return;
    const expiresAt = Math.min(Date.now() + this.ttlMs, notAfter);
    this.entries.delete(key);
    this.entries.set(key, { value, expiresAt });
    if (this.entries.size > this.maxEntries) this.entries.delete(this.entries.keys().next().value!);
  }

  /**
   * Forgets the entries whose value matches (one user's sessions were revoked), and, like
   * `clear`, keeps a lookup already in flight from storing what it read before.
   */
  forget(matches: (value: V) => boolean): void {
    this.gen++;
    for (const [key, e] of this.entries) if (matches(e.value)) this.entries.delete(key);
    this.notify();
  }

  /**
   * One lookup at a time per key: callers presenting the same credentials while it runs
   * share its answer (a burst of requests with one API key after a restart or a clear costs
   * one database query, not one each). Only within a generation: a caller arriving after a
   * `clear` or `forget` starts a lookup of its own, since the one in flight may have read
   * the state from before the change. Refusals are shared too, never kept.
   */
  shared(key: string, lookup: () => Promise<V>): Promise<V> {
    const k = `${this.gen}:${key}`;
    let p = this.inflight.get(k);
    if (!p) {
      p = lookup().finally(() => this.inflight.delete(k));
      this.inflight.set(k, p);
    }
    return p;
  }

  /** Forgets everything (a credential, membership or user changed). */
  clear(): void {
    this.gen++;
    this.entries.clear();
    this.notify();
  }

  private notify(): void {
    for (const cb of this.invalidated) cb();
  }
}

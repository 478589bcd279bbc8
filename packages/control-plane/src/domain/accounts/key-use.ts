/**
 * `api_keys.last_used_at`, written at most once a minute per key by this process
 * (`ctx.keyUse`): an authenticated call never waits for, or fails on, this write.
 */
import { sql } from 'kysely';
import type { ContextBase } from '../../context-base.js';

/** An API key's use is written to the database at most this often (one write). */
const LAST_USED_WRITE_INTERVAL_MS = 60_000;
const MAX_KEYS = 10_000;

export class KeyUseWrites {
  /** When this process last wrote each key's use. */
  private readonly written = new Map<string, number>();

  constructor(private readonly deps: Pick<ContextBase, 'db'>) {}

  /** Records that key `keyId` was used (`lastUsedAt`: what the database already says, when known). */
  record(keyId: string, lastUsedAt: Date | null): void {
    const now = Date.now();
    const last = Math.max(this.written.get(keyId) ?? 0, lastUsedAt?.getTime() ?? 0);
    if (now - last <= LAST_USED_WRITE_INTERVAL_MS) return;
    this.written.set(keyId, now);
    if (this.written.size > MAX_KEYS) this.written.delete(this.written.keys().next().value!);
    void this.deps.db.updateTable('api_keys').set({ last_used_at: sql`now()` as never }).where('id', '=', keyId).execute().catch(() => {});
  }

  close(): void {
    this.written.clear();
  }
}

/**
 * A short memory of the capsules this process found usable (running, on a host that is not
 * down), so a burst of calls on one capsule (execs, file operations, process lists) reads
 * the database about once a second instead of once per call. One per control plane
 * (`ctx.usable`).
 *
 * Why it stays right:
 * - every write that can make a remembered fact false calls `ctx.usable.forget()`, which
 *   drops every entry: capsule status transitions (status.ts, the reconciler), hosts
 *   marked down, drained, deleted, re-registered or given a new address (hosts/*);
 * - a lookup that started before such a write cannot store its (possibly stale) answer
 *   after it (entries carry the generation they were read under);
 * - an entry lives at most USABLE_MEMO_TTL_MS, which bounds what a change made elsewhere
 *   (another control plane replica, SQL by hand) can go unnoticed: for that second a call
 *   still reaches the agent, which runs only capsules that are running and refuses the rest
 *   with its own error;
 * - an entry answers only for the team that owns the capsule; anyone else gets the
 *   database's answer (404).
 */
import type { Capsule } from '../../db/schema.js';
import type { CapsuleHostRow as CapsuleHost } from '../../db/repos/capsules.js';

export const USABLE_MEMO_TTL_MS = 1_000;
const MAX_ENTRIES = 10_000;

interface Entry {
  capsule: Capsule;
  host: CapsuleHost | undefined;
  generation: number;
  expiresAt: number;
}

export class UsableCapsuleMemo {
  private generationNow = 0;
  private readonly entries = new Map<string, Entry>();

  /** Drops everything remembered (a capsule's status or a host changed). */
  forget(): void {
    this.generationNow++;
    this.entries.clear();
  }

  /** The value to pass to `remember` for a lookup starting now. */
  get generation(): number {
    return this.generationNow;
  }

  /** The remembered usable capsule, if still valid and owned by `teamId`. */
  recall(teamId: string, capsuleId: string): { capsule: Capsule; host: CapsuleHost | undefined } | undefined {
    const e = this.entries.get(capsuleId);
    if (!e) return undefined;
    if (e.generation !== this.generationNow || e.expiresAt <= Date.now()) {
      this.entries.delete(capsuleId);
      return undefined;
    }
    return e.capsule.team_id === teamId ? { capsule: e.capsule, host: e.host } : undefined;
  }

  /** Remembers a capsule found usable by a lookup that started under `readGeneration`. */
  remember(capsule: Capsule, host: CapsuleHost | undefined, readGeneration: number): void {
    if (readGeneration !== this.generationNow || capsule.status !== 'running') return;
    this.entries.delete(capsule.id);
    this.entries.set(capsule.id, { capsule, host, generation: readGeneration, expiresAt: Date.now() + USABLE_MEMO_TTL_MS });
    if (this.entries.size > MAX_ENTRIES) this.entries.delete(this.entries.keys().next().value!);
  }

  close(): void {
    this.forget();
  }
}

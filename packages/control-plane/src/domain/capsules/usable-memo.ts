/**
 * A short memory of the capsules this process found usable (running, on a host that is not
 * down), so a burst of calls on one capsule (execs, file operations, process lists) reads
 * the database about once a second instead of once per call.
 *
 * Why it stays right:
 * - every write that can make a remembered fact false calls `forgetUsableCapsules()`, which
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
import type { ControlPlaneContext } from '../../context.js';
import type { Capsule } from '../../db/schema.js';
import type { CapsuleHost } from '../capsule-access.js';

export const USABLE_MEMO_TTL_MS = 1_000;
const MAX_ENTRIES = 10_000;

interface Entry {
  capsule: Capsule;
  host: CapsuleHost | undefined;
  generation: number;
  expiresAt: number;
}

/** Shared by every control plane of the process: forgetting too much only costs a query. */
let generation = 0;
const memos = new WeakMap<ControlPlaneContext, Map<string, Entry>>();

/** Drops everything remembered (a capsule's status or a host changed). */
export function forgetUsableCapsules(): void {
  generation++;
}

/** The value to pass to `rememberUsable` for a lookup starting now. */
export function usableGeneration(): number {
  return generation;
}

function memoOf(ctx: ControlPlaneContext): Map<string, Entry> {
  let m = memos.get(ctx);
  if (!m) memos.set(ctx, (m = new Map()));
  return m;
}

/** The remembered usable capsule, if still valid and owned by `teamId`. */
export function recallUsable(ctx: ControlPlaneContext, teamId: string, capsuleId: string): { capsule: Capsule; host: CapsuleHost | undefined } | undefined {
  const m = memoOf(ctx);
  const e = m.get(capsuleId);
  if (!e) return undefined;
  if (e.generation !== generation || e.expiresAt <= Date.now()) {
    m.delete(capsuleId);
    return undefined;
  }
  return e.capsule.team_id === teamId ? { capsule: e.capsule, host: e.host } : undefined;
}

/** Remembers a capsule found usable by a lookup that started under `readGeneration`. */
export function rememberUsable(ctx: ControlPlaneContext, capsule: Capsule, host: CapsuleHost | undefined, readGeneration: number): void {
  if (readGeneration !== generation || capsule.status !== 'running') return;
  const m = memoOf(ctx);
  m.delete(capsule.id);
  m.set(capsule.id, { capsule, host, generation: readGeneration, expiresAt: Date.now() + USABLE_MEMO_TTL_MS });
  if (m.size > MAX_ENTRIES) m.delete(m.keys().next().value!);
}

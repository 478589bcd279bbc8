/**
 * Host liveness: a host whose last heartbeat is older than `hostDownAfterSec` is `down`,
 * and its capsules in active states become `missing` (nothing can reach them). A draining
 * host keeps its status (the drain is an administrator's decision) but its capsules become
 * missing all the same. When heartbeats resume, the host is `up` again and the reconciler
 * puts the missing capsules back to what the agent reports.
 */
import { sql } from 'kysely';
import type { ControlPlaneContext } from '../../context.js';
import type { CapsuleStatus } from '../../db/schema.js';
import { emitHostEvent } from '../channels/events.js';

/** Capsule states that need a live host; `pending`/`stopping` belong to an operation in flight, which settles them. */
export const HOST_BOUND_STATUSES: readonly CapsuleStatus[] = ['starting', 'running', 'pausing', 'paused', 'resuming'];

export interface LivenessResult {
  /** Hosts marked down in this pass. */
  hostsDown: string[];
  /** Capsules marked missing in this pass. */
  capsulesMissing: string[];
}

export async function markStaleHosts(ctx: ControlPlaneContext): Promise<LivenessResult> {
  const staleAfter = ctx.config.hostDownAfterSec;
  // The database's clock on both sides of the comparison: replicas' clocks may differ.
  const cutoff = sql<Date>`now() - make_interval(secs => ${staleAfter}::double precision)`;
  const stale = await ctx.db
    .selectFrom('hosts')
    .select(['id', 'status'])
    .where('status', 'in', ['up', 'draining'])
    .where((eb) => eb(eb.fn.coalesce('last_heartbeat_at', 'created_at'), '<', cutoff))
    .execute();
  if (stale.length === 0) return { hostsDown: [], capsulesMissing: [] };
  const down = await ctx.db
    .updateTable('hosts')
    .set({ status: 'down' })
    .where('id', 'in', stale.map((h) => h.id))
    .where('status', '=', 'up')
    // Re-checked in the write: a heartbeat that landed since the read wins.
    .where((eb) => eb(eb.fn.coalesce('last_heartbeat_at', 'created_at'), '<', cutoff))
    .returning(['id'])
    .execute();
  const silent = [...down.map((h) => h.id), ...stale.filter((h) => h.status === 'draining').map((h) => h.id)];
  if (silent.length === 0) return { hostsDown: [], capsulesMissing: [] };
  ctx.usable.forget(); // their capsules are no longer usable
  const missing = await ctx.db
    .updateTable('capsules')
    .set({ status: 'missing', updated_at: sql`now()` as never })
    .where('host_id', 'in', silent)
    .where('status', 'in', [...HOST_BOUND_STATUSES])
    .returning(['id', 'host_id'])
    .execute();
  ctx.usable.forget();
  for (const h of down) ctx.logger.warn({ hostId: h.id, afterSec: staleAfter }, 'host stopped heartbeating: marked down');
  // After the capsules are marked: the teams told are those with capsules there (and a BYOC host's own).
  for (const h of down) await emitHostEvent(ctx, h.id, 'host.down');
  for (const c of missing) ctx.logger.warn({ hostId: c.host_id, capsuleId: c.id }, 'capsule marked missing: its host stopped heartbeating');
  return { hostsDown: down.map((h) => h.id), capsulesMissing: missing.map((c) => c.id) };
}

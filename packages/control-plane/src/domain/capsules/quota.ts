/**
 * Per-team quotas (WRENN_TEAM_MAX_*; 0 = no limit): capsules that are not stopped, and the
 * vCPUs and memory of the running ones and the disk of those that keep one (paused
 * included). A create over a limit is refused with 429 resource_exhausted naming the
 * limit, what is used and what to do, before any host is asked.
 * Concurrent creates of one team are checked against the same rows, so a burst may pass a
 * limit by the creates in flight; the next create sees them.
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';

const ACTIVE = ['pending', 'starting', 'running', 'pausing', 'resuming'];
const HELD = [...ACTIVE, 'paused'];

export interface QuotaRequest {
  vcpus: number;
  memoryMb: number;
  diskSizeMb: number;
}

export async function assertTeamQuota(ctx: ControlPlaneContext, teamId: string, req: QuotaRequest): Promise<void> {
  const q = ctx.config.teamQuota;
  if (!q.capsules && !q.vcpus && !q.memoryMb && !q.diskMb) return;
  const active = sql.join(ACTIVE);
  const row = await ctx.db
    .selectFrom('capsules')
    .select([
      sql<string>`count(*)`.as('capsules'),
      sql<string>`coalesce(sum(vcpus) filter (where status in (${active})), 0)`.as('vcpus'),
      sql<string>`coalesce(sum(memory_mb) filter (where status in (${active})), 0)`.as('memory'),
      sql<string>`coalesce(sum(disk_size_mb), 0)`.as('disk'),
    ])
    .where('team_id', '=', teamId)
    .where('status', 'in', HELD as never)
    .executeTakeFirstOrThrow();
  const used = { capsules: Number(row.capsules), vcpus: Number(row.vcpus), memoryMb: Number(row.memory), diskMb: Number(row.disk) };
  const over = (limit: string, variable: string, max: number, inUse: number, asked: number, unit: string, what: string): WrennError =>
    new WrennError(
      'resource_exhausted',
      `team quota reached: ${limit} (${variable}=${max}${unit}; ${inUse}${unit} in use, this asks ${asked}${unit}): ${what}`,
      { limit, max, used: inUse, requested: asked },
    );
  if (q.capsules && used.capsules + 1 > q.capsules) throw over('capsules', 'WRENN_TEAM_MAX_CAPSULES', q.capsules, used.capsules, 1, '', 'destroy capsules you no longer need');
  if (q.vcpus && used.vcpus + req.vcpus > q.vcpus) throw over('vcpus', 'WRENN_TEAM_MAX_VCPUS', q.vcpus, used.vcpus, req.vcpus, '', 'pause or destroy running capsules, or ask for fewer vCPUs');
  if (q.memoryMb && used.memoryMb + req.memoryMb > q.memoryMb) {
    throw over('memory_mb', 'WRENN_TEAM_MAX_MEMORY_MB', q.memoryMb, used.memoryMb, req.memoryMb, ' MB', 'pause or destroy running capsules, or ask for less memory');
  }
  if (q.diskMb && used.diskMb + req.diskSizeMb > q.diskMb) {
    throw over('disk_size_mb', 'WRENN_TEAM_MAX_DISK_MB', q.diskMb, used.diskMb, req.diskSizeMb, ' MB', 'destroy capsules (paused ones keep their disk), or ask for a smaller disk');
  }
}

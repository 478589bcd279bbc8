/**
 * Team-wide capsule statistics: how many capsules are in each state, what the running
 * ones hold (vCPUs, memory), and a time series of what they used, from the samples the
 * usage worker stores in metric_points every 30 s.
 */
import { sql, type Kysely } from 'kysely';
import type { CapsuleStatus, Database } from '../../db/schema.js';
import { ALL_STATUSES } from './status.js';

/** Range → its length and the width of one point of the series. */
export const STATS_RANGES = {
  '5m': { seconds: 300, bucketSec: 30 },
  '1h': { seconds: 3600, bucketSec: 60 },
  '6h': { seconds: 6 * 3600, bucketSec: 300 },
  '24h': { seconds: 86_400, bucketSec: 900 },
  '30d': { seconds: 30 * 86_400, bucketSec: 6 * 3600 },
} as const;
export type StatsRange = keyof typeof STATS_RANGES;

export interface StatsPoint {
  ts: string;
  /** Capsules sampled in this interval. */
  capsules: number;
  /** Sum over those capsules of their average CPU % (100 = one core busy). */
  cpu_pct: number;
  /** Sum over those capsules of their average memory in use. */
  mem_used_bytes: number;
}

export interface TeamStats {
  range: StatsRange;
  /** Current capsules by state; `stopped` counts those stopped within the range. */
  counts: Record<CapsuleStatus, number>;
  running: { capsules: number; vcpus: number; memory_mb: number };
  series: StatsPoint[];
}

export async function teamStats(db: Kysely<Database>, teamId: string, range: StatsRange): Promise<TeamStats> {
  const { seconds, bucketSec } = STATS_RANGES[range];
  const since = sql`now() - (${sql.lit(seconds)} * interval '1 second')`;
  const counted = await db
    .selectFrom('capsules')
    .select(['status'])
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('team_id', '=', teamId)
    .where((eb) => eb.or([eb('status', '!=', 'stopped'), eb('stopped_at', '>=', since as never)]))
    .groupBy('status')
    .execute();
  const counts = Object.fromEntries(ALL_STATUSES.map((s) => [s, 0])) as Record<CapsuleStatus, number>;
  for (const r of counted) counts[r.status] = Number(r.n);

  const held = await db
    .selectFrom('capsules')
    .select((eb) => [eb.fn.countAll<string>().as('n'), eb.fn.sum<string>('vcpus').as('vcpus'), eb.fn.sum<string>('memory_mb').as('mem')])
    .where('team_id', '=', teamId)
    .where('status', '=', 'running')
    .executeTakeFirst();

  const bucket = sql.lit(bucketSec);
  const series = await sql<{ bucket: string | number; capsules: string | number; cpu: string | number | null; mem: string | number | null }>`
    select bucket, count(*) as capsules, sum(cpu) as cpu, sum(mem) as mem from (
      select floor(extract(epoch from ts) / ${bucket}) * ${bucket} as bucket, capsule_id, avg(cpu_pct) as cpu, avg(mem_used_bytes) as mem
      from metric_points
      where team_id = ${teamId} and ts >= ${since}
      group by 1, 2
    ) per_capsule
    group by bucket
    order by bucket`.execute(db);

  return {
    range,
    counts,
    running: { capsules: Number(held?.n ?? 0), vcpus: Number(held?.vcpus ?? 0), memory_mb: Number(held?.mem ?? 0) },
    series: series.rows.map((r) => ({
      ts: new Date(Number(r.bucket) * 1000).toISOString(),
      capsules: Number(r.capsules),
      cpu_pct: Math.round(Number(r.cpu ?? 0) * 100) / 100,
      mem_used_bytes: Math.round(Number(r.mem ?? 0)),
    })),
  };
}

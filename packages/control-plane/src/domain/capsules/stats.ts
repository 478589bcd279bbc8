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
  /** What those capsules held. */
  vcpus: number;
  memory_mb: number;
  /** Sum over those capsules of their average CPU % (100 = one core busy). */
  cpu_pct: number;
  /** Sum over those capsules of their average memory in use. */
  mem_used_bytes: number;
}

/** Wrenn's shape (current, peaks, series as parallel arrays) and ours (counts, running, points). */
export interface TeamStats {
  range: StatsRange;
  current: { running_count: number; vcpus_reserved: number; memory_mb_reserved: number; sampled_at: string | null };
  peaks: { running_count: number; vcpus: number; memory_mb: number };
  series: { labels: string[]; running: number[]; vcpus: number[]; memory_mb: number[] };
  /** Current capsules by state; `stopped` counts those stopped within the range. */
  counts: Record<CapsuleStatus, number>;
  running: { capsules: number; vcpus: number; memory_mb: number };
  points: StatsPoint[];
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
  const series = await sql<{
    bucket: string | number;
    capsules: string | number;
    vcpus: string | number | null;
    memory_mb: string | number | null;
    cpu: string | number | null;
    mem: string | number | null;
  }>`
    select bucket, count(*) as capsules, sum(c.vcpus) as vcpus, sum(c.memory_mb) as memory_mb, sum(cpu) as cpu, sum(mem) as mem from (
      select floor(extract(epoch from ts) / ${bucket}) * ${bucket} as bucket, capsule_id, avg(cpu_pct) as cpu, avg(mem_used_bytes) as mem
      from metric_points
      where team_id = ${teamId} and ts >= ${since}
      group by 1, 2
    ) per_capsule
    left join capsules c on c.id = per_capsule.capsule_id
    group by bucket
    order by bucket`.execute(db);

  const points: StatsPoint[] = series.rows.map((r) => ({
    ts: new Date(Number(r.bucket) * 1000).toISOString(),
    capsules: Number(r.capsules),
    vcpus: Number(r.vcpus ?? 0),
    memory_mb: Number(r.memory_mb ?? 0),
    cpu_pct: Math.round(Number(r.cpu ?? 0) * 100) / 100,
    mem_used_bytes: Math.round(Number(r.mem ?? 0)),
  }));
  const running = { capsules: Number(held?.n ?? 0), vcpus: Number(held?.vcpus ?? 0), memory_mb: Number(held?.mem ?? 0) };
  const current = { running_count: running.capsules, vcpus_reserved: Math.ceil(running.vcpus), memory_mb_reserved: running.memory_mb, sampled_at: new Date().toISOString() };
  const vcpuSeries = points.map((p) => Math.ceil(p.vcpus));
  return {
    range,
    current,
    peaks: {
      running_count: Math.max(current.running_count, ...points.map((p) => p.capsules)),
      vcpus: Math.max(current.vcpus_reserved, ...vcpuSeries),
      memory_mb: Math.max(current.memory_mb_reserved, ...points.map((p) => p.memory_mb)),
    },
    series: { labels: points.map((p) => p.ts), running: points.map((p) => p.capsules), vcpus: vcpuSeries, memory_mb: points.map((p) => p.memory_mb) },
    counts,
    running,
    points,
  };
}

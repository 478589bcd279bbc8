/**
 * GET /capsules/{id}/metrics (one capsule, from its agent), GET /capsules/stats (team-wide
 * counts and series), GET /capsules/usage (daily CPU and RAM minutes). The static paths
 * /capsules/stats and /capsules/usage win over /capsules/{id} (the router prefers static
 * segments), so a capsule can never be called "stats".
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { capsuleMetrics, type MetricsRange } from '../../../domain/capsules/metrics.js';
import { STATS_RANGES, teamStats, type StatsRange } from '../../../domain/capsules/stats.js';
import { teamUsage } from '../../../domain/capsules/usage.js';
import { ALL_STATUSES } from '../../../domain/capsules/status.js';
import { teamOf } from '../../plugins/auth.js';
import { CommonErrors, DateTime, ErrorSchema, IdParams, Strict, TAGS } from './schemas.js';

const Day = Type.String({ format: 'date', description: 'YYYY-MM-DD (UTC)' });

/** Wrenn's MetricPoint (timestamp_unix, cpu_pct, mem_bytes, disk_bytes) and ours (extensions). */
const MetricPoint = Type.Object({
  timestamp_unix: Type.Integer({ format: 'int64' }),
  mem_bytes: Type.Integer({ format: 'int64', description: 'Memory in use' }),
  disk_bytes: Type.Integer({ format: 'int64', description: 'Disk in use' }),
  ts: DateTime,
  cpu_pct: Type.Number({ description: '100 = one core busy' }),
  mem_used_bytes: Type.Integer(),
  mem_total_bytes: Type.Integer(),
  disk_used_bytes: Type.Integer(),
  disk_total_bytes: Type.Integer(),
});

/** Wrenn's CapsuleStats (range, current, peaks, series); counts, running and points are extensions. */
const StatsSchema = Type.Object({
  range: Type.Enum(Object.keys(STATS_RANGES) as StatsRange[]),
  current: Type.Object({
    running_count: Type.Integer(),
    vcpus_reserved: Type.Integer({ description: 'Rounded up' }),
    memory_mb_reserved: Type.Integer(),
    sampled_at: Type.Union([DateTime, Type.Null()]),
  }),
  peaks: Type.Object({ running_count: Type.Integer(), vcpus: Type.Integer(), memory_mb: Type.Integer() }),
  series: Type.Object({ labels: Type.Array(DateTime), running: Type.Array(Type.Integer()), vcpus: Type.Array(Type.Integer()), memory_mb: Type.Array(Type.Integer()) }),
  counts: Type.Object(Object.fromEntries(ALL_STATUSES.map((s) => [s, Type.Integer()])), { description: 'Capsules by state now (stopped: within the range)' }),
  running: Type.Object({ capsules: Type.Integer(), vcpus: Type.Number(), memory_mb: Type.Integer() }),
  points: Type.Array(Type.Object({ ts: DateTime, capsules: Type.Integer(), vcpus: Type.Number(), memory_mb: Type.Integer(), cpu_pct: Type.Number(), mem_used_bytes: Type.Integer() })),
});

const UsageDay = Type.Object({ date: Day, cpu_minutes: Type.Number({ description: 'vCPUs × minutes running' }), ram_mb_minutes: Type.Number({ description: 'memory MB × minutes running' }) });
const UsageSchema = Type.Object({
  from: Day,
  to: Day,
  points: Type.Array(UsageDay),
  days: Type.Array(UsageDay, { description: 'The same as points (extension, kept for 0.1 clients of ours)' }),
});

/** The contract's ranges, each read from the agent's tier that covers it. */
const API_METRICS_RANGES = ['5m', '10m', '1h', '2h', '6h', '12h', '24h'] as const;
const METRICS_TIER: Record<(typeof API_METRICS_RANGES)[number], { tier: MetricsRange; seconds: number }> = {
  '5m': { tier: '5m', seconds: 300 },
  '10m': { tier: '10m', seconds: 600 },
  '1h': { tier: '2h', seconds: 3600 },
  '2h': { tier: '2h', seconds: 7200 },
  '6h': { tier: '24h', seconds: 6 * 3600 },
  '12h': { tier: '24h', seconds: 12 * 3600 },
  '24h': { tier: '24h', seconds: 86_400 },
};

function daysAgo(n: number): string {
  return new Date(Date.now() - n * 86_400_000).toISOString().slice(0, 10);
}

export async function metricsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/capsules/:id/metrics',
    {
      schema: {
        tags: TAGS,
        summary: "A capsule's CPU, memory and disk samples",
        description: 'Resolution: 1 s up to 10m, 30 s up to 2h, 5 min up to 24h.',
        params: IdParams,
        querystring: Type.Object({ range: Type.Enum(API_METRICS_RANGES, { default: '5m' }) }, Strict),
        response: {
          200: Type.Object({ sandbox_id: Type.String(), range: Type.Enum(API_METRICS_RANGES), points: Type.Array(MetricPoint) }),
          ...CommonErrors,
        },
      },
    },
    async (request) => {
      const range = request.query.range;
      const { tier, seconds } = METRICS_TIER[range];
      const since = Date.now() - seconds * 1000;
      const points = (await capsuleMetrics(ctx, teamOf(request), request.params.id, tier)).filter((p) => Date.parse(p.ts) >= since);
      return {
        sandbox_id: request.params.id,
        range,
        points: points.map((p) => ({ timestamp_unix: Math.floor(Date.parse(p.ts) / 1000), mem_bytes: p.mem_used_bytes, disk_bytes: p.disk_used_bytes, ...p })),
      };
    },
  );

  r.get(
    '/capsules/stats',
    {
      schema: {
        tags: TAGS,
        summary: "The team's capsules by state, what the running ones hold, and their use over time",
        querystring: Type.Object({ range: Type.Enum(Object.keys(STATS_RANGES) as StatsRange[], { default: '1h' }) }, Strict),
        response: { 200: StatsSchema, 400: ErrorSchema, 401: ErrorSchema },
      },
    },
    async (request) => teamStats(ctx.db, teamOf(request), request.query.range),
  );

  r.get(
    '/capsules/usage',
    {
      schema: {
        tags: TAGS,
        summary: 'Daily CPU-minutes and RAM MB-minutes of the team (default: the last 30 days)',
        querystring: Type.Object({ from: Type.Optional(Day), to: Type.Optional(Day) }, Strict),
        response: { 200: UsageSchema, 400: ErrorSchema, 401: ErrorSchema },
      },
    },
    async (request) => {
      const to = request.query.to ?? daysAgo(0);
      const from = request.query.from ?? (request.query.to ? to : daysAgo(29));
      const days = await teamUsage(ctx.db, teamOf(request), from, to);
      return { from, to, points: days, days };
    },
  );
}

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
import { capsuleMetrics, METRICS_RANGES } from '../../../domain/capsules/metrics.js';
import { STATS_RANGES, teamStats, type StatsRange } from '../../../domain/capsules/stats.js';
import { teamUsage } from '../../../domain/capsules/usage.js';
import { ALL_STATUSES } from '../../../domain/capsules/status.js';
import { teamOf } from '../../plugins/auth.js';
import { CommonErrors, DateTime, ErrorSchema, IdParams, Strict, TAGS } from './schemas.js';

const Day = Type.String({ format: 'date', description: 'YYYY-MM-DD (UTC)' });

const MetricPoint = Type.Object({
  ts: DateTime,
  cpu_pct: Type.Number({ description: '100 = one core busy' }),
  mem_used_bytes: Type.Integer(),
  mem_total_bytes: Type.Integer(),
  disk_used_bytes: Type.Integer(),
  disk_total_bytes: Type.Integer(),
});

const StatsSchema = Type.Object({
  range: Type.String(),
  counts: Type.Object(Object.fromEntries(ALL_STATUSES.map((s) => [s, Type.Integer()])), { description: 'Capsules by state now (stopped: within the range)' }),
  running: Type.Object({ capsules: Type.Integer(), vcpus: Type.Number(), memory_mb: Type.Integer() }),
  series: Type.Array(Type.Object({ ts: DateTime, capsules: Type.Integer(), cpu_pct: Type.Number(), mem_used_bytes: Type.Integer() })),
});

const UsageSchema = Type.Object({
  from: Day,
  to: Day,
  days: Type.Array(Type.Object({ date: Day, cpu_minutes: Type.Number({ description: 'vCPUs × minutes running' }), ram_mb_minutes: Type.Number({ description: 'memory MB × minutes running' }) })),
});

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
        description: 'Resolution: 1 s up to 10m, 30 s for 2h, 5 min for 24h.',
        params: IdParams,
        querystring: Type.Object({ range: Type.Enum(METRICS_RANGES, { default: '5m' }) }, Strict),
        response: { 200: Type.Object({ points: Type.Array(MetricPoint) }), ...CommonErrors },
      },
    },
    async (request) => ({ points: await capsuleMetrics(ctx, teamOf(request), request.params.id, request.query.range) }),
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
      return { from, to, days: await teamUsage(ctx.db, teamOf(request), from, to) };
    },
  );
}

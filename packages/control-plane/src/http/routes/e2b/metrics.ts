/**
 * E2B metrics: `GET /sandboxes/{id}/metrics?start&end` (unix seconds; the samples of one
 * sandbox, oldest first) and `GET /sandboxes/metrics?sandbox_ids=a,b` (the latest sample of
 * each). Samples come from the host agent's tiers (1 s for 10 min, 30 s for 2 h, 5 min for
 * 24 h): the finest tier that covers the asked span is used.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { capsuleMetrics, type MetricPointView, type MetricsRange } from '../../../domain/capsules/metrics.js';
import { getSandbox } from '../../../domain/e2b/sandboxes.js';
import { teamOf } from '../../plugins/auth.js';
import { MetricsQuery, SandboxParams, Strict, TAGS } from './schemas.js';

function rangeFor(spanSec: number): MetricsRange {
  if (spanSec <= 600) return '10m';
  if (spanSec <= 7200) return '2h';
  return '24h';
}

function metricView(p: MetricPointView, cpuCount: number) {
  const ts = new Date(p.ts);
  return {
    timestamp: ts.toISOString(),
    timestampUnix: Math.floor(ts.getTime() / 1000),
    cpuCount,
    // E2B: percent of the sandbox's CPUs; Wrenn samples: 100 = one core.
    cpuUsedPct: Math.round((p.cpu_pct / Math.max(cpuCount, 1)) * 100) / 100,
    memUsed: p.mem_used_bytes,
    memTotal: p.mem_total_bytes,
    memCache: 0,
    diskUsed: p.disk_used_bytes,
    diskTotal: p.disk_total_bytes,
  };
}

export async function metricsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get('/sandboxes/:sandboxID/metrics', { schema: { tags: TAGS, summary: "A sandbox's resource samples (E2B)", params: SandboxParams, querystring: MetricsQuery } }, async (request) => {
    const teamId = teamOf(request);
    const { capsule, sandbox } = await getSandbox(ctx, teamId, request.params.sandboxID);
    const nowSec = Date.now() / 1000;
    const start = request.query.start ?? new Date(sandbox.started_at).getTime() / 1000;
    const end = request.query.end ?? nowSec;
    const points = await capsuleMetrics(ctx, teamId, capsule.id, rangeFor(nowSec - start));
    return points
      .filter((p) => {
        const t = Date.parse(p.ts) / 1000;
        return t >= start && t <= end;
      })
      .map((p) => metricView(p, capsule.vcpus));
  });

  r.get(
    '/sandboxes/metrics',
    {
      schema: {
        tags: TAGS,
        summary: 'The latest sample of several sandboxes (E2B)',
        querystring: Type.Object({ sandbox_ids: Type.String({ minLength: 1, maxLength: 10000, pattern: '^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$' }) }, Strict),
      },
    },
    async (request) => {
      const teamId = teamOf(request);
      const ids = [...new Set(request.query.sandbox_ids.split(','))].slice(0, 100);
      const sandboxes: Record<string, ReturnType<typeof metricView>> = {};
      await Promise.all(
        ids.map(async (id) => {
          try {
            const { capsule } = await getSandbox(ctx, teamId, id);
            const last = (await capsuleMetrics(ctx, teamId, id, '5m')).at(-1);
            if (last) sandboxes[id] = metricView(last, capsule.vcpus);
          } catch {
            // unknown, another team's or gone: left out, as E2B does
          }
        }),
      );
      return { sandboxes };
    },
  );
}

/**
 * Resource samples of one capsule, from its host agent's ring buffers (docs/decisions.md#h8: 1 s samples
 * for 10 min, 30 s for 2 h, 5 min for 24 h).
 */
import type { ControlPlaneContext } from '../../context.js';
import { agentFor, getTeamCapsule } from '../capsule-access.js';
import { busy, ALLOWED_FROM } from './status.js';

export const METRICS_RANGES = ['5m', '10m', '2h', '24h'] as const;
export type MetricsRange = (typeof METRICS_RANGES)[number];

export interface MetricPointView {
  ts: string;
  cpu_pct: number;
  mem_used_bytes: number;
  mem_total_bytes: number;
  disk_used_bytes: number;
  disk_total_bytes: number;
}

export async function capsuleMetrics(ctx: ControlPlaneContext, teamId: string, capsuleId: string, range: MetricsRange): Promise<MetricPointView[]> {
  const capsule = await getTeamCapsule(ctx, teamId, capsuleId);
  if (!(ALLOWED_FROM.metrics as readonly string[]).includes(capsule.status)) throw busy(capsule, 'read metrics');
  const agent = await agentFor(ctx, capsule);
  const res = await agent.getMetrics({ capsuleId, range }, { timeoutMs: 30_000 });
  return res.points.map((p) => ({
    ts: new Date(Number(p.tsMs)).toISOString(),
    cpu_pct: Math.round(p.cpuPct * 100) / 100,
    mem_used_bytes: Number(p.memUsedBytes),
    mem_total_bytes: Number(p.memTotalBytes),
    disk_used_bytes: Number(p.diskUsedBytes),
    disk_total_bytes: Number(p.diskTotalBytes),
  }));
}

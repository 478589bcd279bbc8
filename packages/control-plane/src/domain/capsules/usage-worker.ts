/**
 * The capsule usage worker, every 30 s:
 *  - counts the running time of running capsules into daily_usage (usage.ts);
 *  - stores each running capsule's latest metric sample in metric_points (the series of
 *    GET /capsules/stats), and drops samples older than 30 days;
 *  - pauses capsules idle for longer than their timeout_sec (auto-pause; activity is
 *    exec, files, processes, ping, WebSocket streams and terminal input/output).
 * A slow or unreachable host delays only its own capsules' samples (each call has a short
 * deadline); ticks never overlap.
 */
import { sql } from 'kysely';
import type { ControlPlaneContext, Worker } from '../../context.js';
import { codeOf, reasonOf } from './agent-errors.js';
import { pauseCapsule } from './pause.js';
import { accountUsage } from './usage.js';

export const USAGE_WORKER_NAME = 'capsule-usage';
const INTERVAL_MS = 30_000;
const SAMPLE_TIMEOUT_MS = 10_000;
const RETENTION_DAYS = 30;
/** A latest sample older than this means the agent's sampler is not running: skip it. */
const STALE_SAMPLE_MS = 120_000;
const PARALLEL = 16;

export interface TickResult {
  accounted: number;
  sampled: number;
  autoPaused: number;
}

async function inParallel<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++]!);
  });
  await Promise.all(lanes);
}

export class CapsuleUsageWorker implements Worker {
  readonly name = USAGE_WORKER_NAME;
  private timer: NodeJS.Timeout | undefined;
  private current: Promise<unknown> | undefined;
  private lastPruneMs = 0;
  /** Hosts whose agent has no Pause RPC: auto-pause is not retried there every tick. */
  private readonly cannotPause = new Set<string>();

  constructor(
    private readonly ctx: ControlPlaneContext,
    private readonly intervalMs = INTERVAL_MS,
  ) {}

  start(): void {
    this.timer = setInterval(() => {
      if (this.current) return;
      this.current = this.tick()
        .catch((err) => this.ctx.logger.warn({ err: reasonOf(err) }, 'capsule usage tick failed'))
        .finally(() => (this.current = undefined));
    }, this.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.current;
  }

  async tick(): Promise<TickResult> {
    const accounted = await accountUsage(this.ctx.db);
    const sampled = await this.sample();
    const autoPaused = await this.autoPause();
    if (Date.now() - this.lastPruneMs > 3_600_000) {
      this.lastPruneMs = Date.now();
      this.cannotPause.clear(); // agents get upgraded: try them again now and then
      await this.ctx.db.deleteFrom('metric_points').where('ts', '<', sql`now() - interval '${sql.raw(String(RETENTION_DAYS))} days'` as never).execute();
    }
    return { accounted, sampled, autoPaused };
  }

  private async sample(): Promise<number> {
    const rows = await this.ctx.db
      .selectFrom('capsules')
      .innerJoin('hosts', 'hosts.id', 'capsules.host_id')
      .select(['capsules.id', 'capsules.team_id', 'hosts.id as host_id', 'hosts.agent_url', 'hosts.agent_token'])
      .where('capsules.status', '=', 'running')
      .where('hosts.status', '=', 'up')
      .execute();
    let sampled = 0;
    await inParallel(rows, PARALLEL, async (r) => {
      try {
        const agent = this.ctx.agents.get(r.host_id, r.agent_url, r.agent_token);
        const res = await agent.getMetrics({ capsuleId: r.id, range: '5m' }, { timeoutMs: SAMPLE_TIMEOUT_MS });
        const p = res.points.at(-1);
        if (!p || Date.now() - Number(p.tsMs) > STALE_SAMPLE_MS) return;
        await this.ctx.db
          .insertInto('metric_points')
          .values({
            capsule_id: r.id,
            team_id: r.team_id,
            ts: new Date(Number(p.tsMs)),
            cpu_pct: p.cpuPct,
            mem_used_bytes: String(p.memUsedBytes),
            mem_total_bytes: String(p.memTotalBytes),
            disk_used_bytes: String(p.diskUsedBytes),
            disk_total_bytes: String(p.diskTotalBytes),
          })
          .execute();
        sampled++;
      } catch (err) {
        this.ctx.logger.debug({ capsuleId: r.id, err: reasonOf(err) }, 'metric sample skipped');
      }
    });
    return sampled;
  }

  private async autoPause(): Promise<number> {
    // Activity is written behind the calls (activity.ts): make it current first.
    const activity = this.ctx.activity;
    await activity.flush();
    const idle = await this.ctx.db
      .selectFrom('capsules')
      .select(['id', 'team_id', 'host_id'])
      .where('status', '=', 'running')
      .where('timeout_sec', '>', 0)
      .where(sql<boolean>`last_activity_at < now() - timeout_sec * interval '1 second'`)
      .execute();
    let paused = 0;
    for (const c of idle) {
      if (c.host_id && this.cannotPause.has(c.host_id)) continue;
      if (activity.isHeld(c.id)) continue; // a command, transfer or stream is running on it right now
      try {
        await pauseCapsule(this.ctx, c.team_id, c.id);
        paused++;
      } catch (err) {
        if (codeOf((err as { cause?: unknown }).cause) === 'not_implemented' && c.host_id) this.cannotPause.add(c.host_id);
        this.ctx.logger.info({ capsuleId: c.id, err: reasonOf(err) }, 'auto-pause failed');
      }
    }
    return paused;
  }
}

export function capsuleUsageWorker(ctx: ControlPlaneContext): Worker {
  return new CapsuleUsageWorker(ctx);
}

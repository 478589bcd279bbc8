/** GET /metrics: the capsule's CPU, memory (its own cgroup, docs/decisions.md#e7) and disk usage as JSON. */
import type { EnvdContext } from '../core/context.js';
import { MetricsCollector } from '../metrics/collector.js';
import type { HttpRouter } from './router.js';
import { sendJson } from './respond.js';

export function registerMetricsRoute(router: HttpRouter): void {
  // One collector per envd: it keeps the previous CPU reading between calls.
  const collectors = new WeakMap<EnvdContext, MetricsCollector>();
  router.add('GET', '/metrics', async (_req, res, _url, ctx) => {
    let collector = collectors.get(ctx);
    if (!collector) {
      collector = new MetricsCollector({ cgroupRoot: ctx.config.cgroupRoot, diskPath: ctx.config.diskPath });
      collectors.set(ctx, collector);
    }
    sendJson(res, 200, await collector.collect());
  });
}

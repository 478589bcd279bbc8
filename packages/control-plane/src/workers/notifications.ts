/**
 * Worker: delivers the notification outbox (domain/channels/outbox.ts) every
 * WRENN_NOTIFY_INTERVAL_MS, a full batch followed at once by the next; every ten minutes it
 * also drops rows delivered over 7 days ago and given up over 30 days ago.
 */
import { sql } from 'kysely';
import type { ControlPlaneContext, Worker } from '../context.js';
import { deliverDue } from '../domain/channels/outbox.js';
import { periodicWorker } from './periodic.js';

export const NOTIFICATIONS_WORKER = 'notifications';
const PRUNE_EVERY_MS = 600_000;

export function notificationsWorker(ctx: ControlPlaneContext): Worker {
  let prunedAt = 0;
  return periodicWorker(
    NOTIFICATIONS_WORKER,
    ctx.config.notifications.intervalMs,
    async (c, signal) => {
      while (!signal.aborted && (await deliverDue(c, signal)) >= 20) {
        // a full batch: more may be due
      }
      if (Date.now() - prunedAt > PRUNE_EVERY_MS) {
        prunedAt = Date.now();
        await c.db
          .deleteFrom('notification_outbox')
          .where((eb) => eb.or([eb('delivered_at', '<', sql<Date>`now() - interval '7 days'`), eb('failed_at', '<', sql<Date>`now() - interval '30 days'`)]))
          .execute();
      }
    },
    ctx.logger,
  );
}

/**
 * E2B lifetime: a running sandbox ends at `end_at` (create/setTimeout/connect + timeout),
 * killed, or paused when it was created with `autoPause` (lifecycle onTimeout `pause`).
 * This is unrelated to a capsule's inactivity timer (`timeout_sec`, pause after idling):
 * E2B sandboxes are created with that timer off, and both keep working side by side.
 *
 * One pass a second also keeps `end_at` in step with pauses and resumes made elsewhere
 * (native API, auto-resume through the port proxy): a sandbox resumed that way gets a
 * fresh lifetime, a paused one has none. Several replicas may run passes: every change is
 * a conditional status transition, so a sandbox is ended once and the loser's 409 is ignored.
 */
import { sql } from 'kysely';
import type { ControlPlaneContext, Worker } from '../../context.js';
import { destroyCapsule } from '../capsules/lifecycle.js';
import { pauseCapsule } from '../capsules/pause.js';
import { periodicWorker } from '../../workers/periodic.js';
import { recordAuditLater } from '../audit.js';
import { STATUSES_OF } from './sandboxes.js';

export const E2B_LIFETIME_INTERVAL_MS = 1_000;

export async function lifetimePass(ctx: ControlPlaneContext, signal?: AbortSignal): Promise<void> {
  // Resumed outside the E2B API: a fresh lifetime from now.
  await ctx.db
    .updateTable('e2b_sandboxes')
    .set({ end_at: sql`now() + make_interval(secs => timeout_sec)` as never, started_at: sql`now()` as never })
    .where('end_at', 'is', null)
    .where('capsule_id', 'in', (eb) => eb.selectFrom('capsules').select('id').where('status', '=', 'running'))
    .execute();
  // Paused outside the E2B API: no lifetime runs while paused.
  await ctx.db
    .updateTable('e2b_sandboxes')
    .set({ end_at: null })
    .where('end_at', 'is not', null)
    .where('capsule_id', 'in', (eb) => eb.selectFrom('capsules').select('id').where('status', 'in', STATUSES_OF.paused))
    .execute();

  const due = await ctx.db
    .selectFrom('e2b_sandboxes')
    .innerJoin('capsules', 'capsules.id', 'e2b_sandboxes.capsule_id')
    .select(['capsules.id', 'capsules.team_id', 'e2b_sandboxes.on_timeout'])
    .where('capsules.status', '=', 'running')
    .where('e2b_sandboxes.end_at', '<=', sql<Date>`now()`)
    .execute();
  await Promise.all(
    due.map(async (s) => {
      if (signal?.aborted) return;
      const log = ctx.logger.child({ capsuleId: s.id, teamId: s.team_id });
      try {
        if (s.on_timeout === 'pause') {
          await pauseCapsule(ctx, s.team_id, s.id);
          await ctx.db.updateTable('e2b_sandboxes').set({ end_at: null }).where('capsule_id', '=', s.id).execute();
        } else {
          await destroyCapsule(ctx, s.team_id, s.id);
        }
        log.info({ action: s.on_timeout }, 'sandbox reached its end of life');
        // The sandbox's logs (logs.ts) show it, as they show the calls made on it.
        recordAuditLater(ctx, {
          teamId: s.team_id,
          action: s.on_timeout === 'pause' ? 'sandbox end of life: paused' : 'sandbox end of life: killed',
          targetType: 'capsule',
          targetId: s.id,
          result: 'ok',
          statusCode: 0,
        });
      } catch (err) {
        log.warn({ err: (err as Error).message, action: s.on_timeout }, 'sandbox end of life failed; retried next pass');
      }
    }),
  );
}

export function e2bLifetimeWorker(ctx: ControlPlaneContext): Worker {
  return periodicWorker('e2b-lifetime', E2B_LIFETIME_INTERVAL_MS, lifetimePass, ctx.logger);
}

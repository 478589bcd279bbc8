/**
 * Delivery of the notification outbox. Each pass claims due rows with one conditional
 * UPDATE over a `FOR UPDATE SKIP LOCKED` pick (several replicas each take different rows;
 * a row whose claim ran out, because its replica died mid-send, is taken again), sends them,
 * and records the outcome on the row and on its channel (last delivery, last error,
 * consecutive failures). A failure is retried after base × 2^(attempt-1) (capped at an
 * hour, with jitter) until the attempts run out. One channel's rows of a pass go out one
 * after another in the order recorded (a retried one may arrive after later events: the
 * payload's timestamp orders them). A send may repeat when a claim expires
 * mid-send: receivers dedupe on the delivery id (webhook `X-Wrenn-Delivery`, Matrix txn id).
 */
import { sql } from 'kysely';
import type { ControlPlaneContext } from '../../context.js';
import { openConfig } from './channels.js';
import { buildRequest, type EventPayload, type Provider } from './providers.js';
import type { StoredPayload } from './events.js';
import { sendRequest } from './send.js';

const BATCH = 20;
const MAX_BACKOFF_MS = 3600_000;

export function backoffMs(baseMs: number, attempt: number): number {
  const plain = Math.min(MAX_BACKOFF_MS, baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(plain * (1 + Math.random() * 0.1));
}

/** One pass: claims and delivers what is due; resolves with how many rows it handled. */
export async function deliverDue(ctx: ControlPlaneContext, signal?: AbortSignal): Promise<number> {
  const n = ctx.config.notifications;
  const leaseMs = n.timeoutMs + 30_000;
  const claimed = await ctx.db
    .updateTable('notification_outbox')
    .set({ claimed_until: sql`now() + make_interval(secs => ${leaseMs / 1000}::double precision)` as never, attempts: sql`attempts + 1` as never })
    .where('id', 'in', (eb) =>
      eb
        .selectFrom('notification_outbox')
        .select('id')
        .where('delivered_at', 'is', null)
        .where('failed_at', 'is', null)
        .where('next_attempt_at', '<=', sql<Date>`now()`)
        .where((w) => w.or([w('claimed_until', 'is', null), w('claimed_until', '<', sql<Date>`now()`)]))
        .orderBy('next_attempt_at')
        .orderBy('seq')
        .limit(BATCH)
        .forUpdate()
        .skipLocked(),
    )
    // Re-checked in the write: another replica's claim made since the pick wins.
    .where((w) => w.or([w('claimed_until', 'is', null), w('claimed_until', '<', sql<Date>`now()`)]))
    .returning(['id', 'seq', 'channel_id', 'team_id', 'event', 'payload', 'attempts', 'claimed_until'])
    .execute();
  if (claimed.length === 0 || signal?.aborted) return claimed.length;
  const channels = await ctx.db
    .selectFrom('notification_channels')
    .select(['id', 'provider', 'config_sealed'])
    .where('id', 'in', [...new Set(claimed.map((c) => c.channel_id))])
    .execute();
  const byId = new Map(channels.map((c) => [c.id, c]));
  // Channels in parallel; one channel's rows one after another, in the order they were recorded.
  const queues = new Map<string, typeof claimed>();
  for (const row of claimed.sort((a, b) => Number(a.seq) - Number(b.seq))) queues.set(row.channel_id, [...(queues.get(row.channel_id) ?? []), row]);
  await Promise.all(
    [...queues.values()].map(async (rows) => {
      for (const row of rows) await deliverOne(ctx, byId.get(row.channel_id), row);
    }),
  );
  return claimed.length;
}

type Claimed = { id: string; channel_id: string; team_id: string; event: string; payload: unknown; attempts: number };

async function deliverOne(ctx: ControlPlaneContext, channel: { id: string; provider: string; config_sealed: string } | undefined, row: Claimed): Promise<void> {
  const n = ctx.config.notifications;
  if (!channel) return; // deleted meanwhile: the cascade took the row too
  const now = Math.floor(Date.now() / 1000);
  const stored = row.payload as unknown as StoredPayload;
  const payload: EventPayload = { id: row.id, ...stored, team_id: row.team_id };
  const log = ctx.logger.child({ channelId: row.channel_id, deliveryId: row.id, event: row.event, attempt: row.attempts });
  try {
    const req = buildRequest(channel.provider as Provider, openConfig(ctx, channel), payload, { telegramApiUrl: n.telegramApiUrl, deliveryId: row.id, now });
    await sendRequest(req, { allowPrivate: n.allowPrivate, timeoutMs: n.timeoutMs });
    await ctx.db.updateTable('notification_outbox').set({ delivered_at: sql`now()` as never, claimed_until: null, last_error: null }).where('id', '=', row.id).execute();
    await ctx.db.updateTable('notification_channels').set({ last_delivery_at: sql`now()` as never, failure_count: 0 }).where('id', '=', row.channel_id).execute();
    log.debug('notification delivered');
  } catch (err) {
    const message = ((err as Error)?.message ?? String(err)).slice(0, 500);
    const giveUp = row.attempts >= n.maxAttempts;
    await ctx.db
      .updateTable('notification_outbox')
      .set({
        last_error: message,
        claimed_until: null,
        ...(giveUp ? { failed_at: sql`now()` as never } : { next_attempt_at: sql`now() + make_interval(secs => ${backoffMs(n.retryBaseMs, row.attempts) / 1000}::double precision)` as never }),
      })
      .where('id', '=', row.id)
      .execute();
    await ctx.db
      .updateTable('notification_channels')
      .set({ last_error: message, last_error_at: sql`now()` as never, failure_count: sql`failure_count + 1` as never })
      .where('id', '=', row.channel_id)
      .execute();
    log.warn({ err: message, giveUp }, giveUp ? 'notification not delivered: attempts exhausted' : 'notification not delivered: will retry');
  }
}

/**
 * Events into the outbox: called right after the write that made them true (the capsule's
 * conditional status UPDATE, the snapshot's row, the host's status), one INSERT ... SELECT
 * that fans the event out to every channel of the team(s) subscribed to it. Only the caller
 * whose conditional UPDATE won gets here, so replicas racing on one change write it once.
 * A failure to record is logged and never undoes the change it reports.
 */
import { sql } from 'kysely';
import type { ControlPlaneContext } from '../../context.js';
import type { Capsule } from '../../db/schema.js';
import type { ChannelEvent, EventPayload } from './providers.js';

type Ctx = Pick<ControlPlaneContext, 'db' | 'logger'>;

/** What the outbox stores; `id` and `team_id` are the row's own. */
export type StoredPayload = Omit<EventPayload, 'id' | 'team_id'>;

export async function emitEvent(ctx: Ctx, teamIds: readonly string[], event: ChannelEvent, resource: EventPayload['resource'], data: Record<string, unknown> = {}): Promise<void> {
  if (teamIds.length === 0) return;
  const payload: StoredPayload = { event, timestamp: Math.floor(Date.now() / 1000), resource, data };
  try {
    await ctx.db
      .insertInto('notification_outbox')
      .columns(['id', 'channel_id', 'team_id', 'event', 'payload'])
      .expression((eb) =>
        eb
          .selectFrom('notification_channels')
          .select([
            sql<string>`'evt-' || replace(gen_random_uuid()::text, '-', '')`.as('id'),
            'id as channel_id',
            'team_id',
            sql<string>`${event}::text`.as('event'),
            sql<string>`${JSON.stringify(payload)}::jsonb`.as('payload'),
          ])
          .where('team_id', 'in', [...teamIds])
          .where(sql<boolean>`events @> ${JSON.stringify([event])}::jsonb`),
      )
      .execute();
  } catch (err) {
    ctx.logger.error({ err: (err as Error).message, event, resourceId: resource.id }, 'notification event not recorded');
  }
}

/** A capsule's part of its event (no addresses or tokens). */
function capsuleData(c: Pick<Capsule, 'status' | 'template' | 'host_id' | 'vcpus' | 'memory_mb'>): Record<string, unknown> {
  return { status: c.status, template: c.template, host_id: c.host_id, vcpus: Number(c.vcpus), memory_mb: c.memory_mb };
}

export function emitCapsuleEvent(ctx: Ctx, capsule: Pick<Capsule, 'id' | 'team_id' | 'status' | 'template' | 'host_id' | 'vcpus' | 'memory_mb'>, event: ChannelEvent): Promise<void> {
  return emitEvent(ctx, [capsule.team_id], event, { id: capsule.id, type: 'capsule' }, capsuleData(capsule));
}

/**
 * The capsule events a status change means: a create reaching `running` is `created` and
 * `running`; a resume `running`; a pause `paused`; any way to `stopped` `destroyed`. Rolling
 * back a failed pause or resume is not an event.
 */
export function capsuleEventsFor(from: readonly string[], to: string): ChannelEvent[] {
  if (to === 'running' && from.includes('starting')) return ['capsule.created', 'capsule.running'];
  if (to === 'running' && (from.includes('resuming') || from.includes('missing'))) return ['capsule.running'];
  if (to === 'paused' && (from.includes('pausing') || from.includes('missing'))) return ['capsule.paused'];
  if (to === 'stopped') return ['capsule.destroyed'];
  return [];
}

export async function emitCapsuleTransition(ctx: Ctx, from: readonly string[], row: Capsule): Promise<void> {
  for (const event of capsuleEventsFor(from, row.status)) await emitCapsuleEvent(ctx, row, event);
}

/**
 * A host going up or down concerns the team that owns it (BYOC) and every team with a
 * capsule on it; a shared host's other users learn nothing about it.
 */
export async function emitHostEvent(ctx: Ctx, hostId: string, event: 'host.up' | 'host.down'): Promise<void> {
  try {
    const host = await ctx.db.selectFrom('hosts').select(['team_id', 'name', 'status']).where('id', '=', hostId).executeTakeFirst();
    const rows = await ctx.db.selectFrom('capsules').select('team_id').distinct().where('host_id', '=', hostId).where('status', '!=', 'stopped').execute();
    const teams = new Set(rows.map((r) => r.team_id));
    if (host?.team_id) teams.add(host.team_id);
    await emitEvent(ctx, [...teams], event, { id: hostId, type: 'host' }, { status: host?.status ?? null });
  } catch (err) {
    ctx.logger.error({ err: (err as Error).message, event, hostId }, 'notification event not recorded');
  }
}

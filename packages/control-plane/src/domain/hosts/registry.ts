/**
 * The hosts an administrator manages: creating one (with its one-time registration
 * token), listing, draining and deleting. Agent-facing steps (register, refresh,
 * heartbeat) live in ./agent-session.ts.
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { CapsuleStatus, Host, HostType } from '../../db/schema.js';
import { newOpaqueToken, sha256Hex } from '../../infra/secrets.js';
import { newId } from '../ids.js';

/** A registration token is good for one use within this time. */
export const REGISTRATION_TOKEN_TTL_SEC = 24 * 3600;
export const REGISTRATION_TOKEN_PREFIX = 'hreg_';

/** Statuses of capsules that no longer hold anything on a host. */
export const FINISHED_CAPSULE_STATUSES: readonly CapsuleStatus[] = ['stopped', 'error'];

export function secondsFromNow(sec: number): Date {
  return new Date(Date.now() + sec * 1000);
}

export interface HostPlacementFields {
  type?: HostType;
  teamId?: string | null;
  provider?: string | null;
  availabilityZone?: string | null;
}

export async function createHost(
  ctx: ControlPlaneContext,
  name: string | undefined,
  createdBy: string | null,
  fields: HostPlacementFields = {},
): Promise<{ host: Host; registrationToken: string }> {
  const id = newId('host');
  const registrationToken = newOpaqueToken(REGISTRATION_TOKEN_PREFIX);
  const host = await ctx.db.transaction().execute(async (tx) => {
    const row = await tx
      .insertInto('hosts')
      .values({
        id,
        name: name ?? id,
        status: 'pending',
        created_by: createdBy,
        type: fields.type ?? 'regular',
        team_id: fields.teamId ?? null,
        provider: fields.provider ?? null,
        availability_zone: fields.availabilityZone ?? null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    await tx
      .insertInto('host_tokens')
      .values({ id: newId('htok'), host_id: id, kind: 'registration', token_hash: sha256Hex(registrationToken), expires_at: secondsFromNow(REGISTRATION_TOKEN_TTL_SEC) })
      .execute();
    return row;
  });
  ctx.logger.info({ hostId: id, name }, 'host created; waiting for its agent to register');
  return { host, registrationToken };
}

export async function listHosts(ctx: ControlPlaneContext): Promise<Host[]> {
  return ctx.db.selectFrom('hosts').selectAll().orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
}

export async function getHost(ctx: ControlPlaneContext, id: string): Promise<Host> {
  const row = await ctx.db.selectFrom('hosts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!row) throw new WrennError('not_found', `host ${id} not found`, { hostId: id });
  return row;
}

/**
 * Draining: the scheduler places nothing new on the host; its capsules keep running.
 * Undraining puts it back to `up` (or `down` when its heartbeats have stopped).
 */
export async function setDraining(ctx: ControlPlaneContext, id: string, draining: boolean): Promise<Host> {
  const host = await getHost(ctx, id);
  if (draining) {
    if (host.status === 'pending') throw new WrennError('conflict', `host ${id} has not registered yet: there is nothing to drain`);
    const row = await ctx.db.updateTable('hosts').set({ status: 'draining' }).where('id', '=', id).returningAll().executeTakeFirstOrThrow();
    ctx.logger.info({ hostId: id, previous: host.status }, 'host draining');
    return row;
  }
  if (host.status !== 'draining') return host;
  const fresh = host.last_heartbeat_at !== null && Date.now() - host.last_heartbeat_at.getTime() < ctx.config.hostDownAfterSec * 1000;
  const row = await ctx.db
    .updateTable('hosts')
    .set({ status: fresh ? 'up' : 'down' })
    .where('id', '=', id)
    .where('status', '=', 'draining')
    .returningAll()
    .executeTakeFirst();
  ctx.logger.info({ hostId: id, status: row?.status }, 'host no longer draining');
  return row ?? (await getHost(ctx, id));
}

/**
 * Deletes a host. Capsules that still live on it make this a 409 unless `force`, which
 * marks them `error` (their host is gone; nothing can reach them any more).
 */
export async function deleteHost(ctx: ControlPlaneContext, id: string, force: boolean): Promise<{ capsulesMarked: number }> {
  const outcome = await ctx.db.transaction().execute(async (tx) => {
    const host = await tx.selectFrom('hosts').select(['id']).where('id', '=', id).executeTakeFirst();
    if (!host) throw new WrennError('not_found', `host ${id} not found`, { hostId: id });
    const live = await tx
      .selectFrom('capsules')
      .select(['id'])
      .where('host_id', '=', id)
      .where('status', 'not in', [...FINISHED_CAPSULE_STATUSES])
      .execute();
    if (live.length > 0 && !force) {
      throw new WrennError(
        'host_has_capsules',
        `host ${id} still has ${live.length} capsule(s) that are not stopped: delete them first, or pass ?force=true to mark them error`,
        { hostId: id, capsules: live.length, capsuleIds: live.map((c) => c.id), sandbox_ids: live.map((c) => c.id) },
      );
    }
    if (live.length > 0) {
      await tx
        .updateTable('capsules')
        .set({ status: 'error', error: `host ${id} was deleted`, updated_at: sql`now()` as never })
        .where('host_id', '=', id)
        .where('status', 'not in', [...FINISHED_CAPSULE_STATUSES])
        .execute();
    }
    await tx.deleteFrom('hosts').where('id', '=', id).execute();
    return { capsulesMarked: live.length };
  });
  ctx.agents.evict(id);
  ctx.usable.forget();
  ctx.logger.info({ hostId: id, force, capsulesMarked: outcome.capsulesMarked }, 'host deleted');
  return outcome;
}

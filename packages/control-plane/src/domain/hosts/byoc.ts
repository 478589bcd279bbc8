/**
 * Who may see and manage which hosts, and the host operations of Wrenn's contract beyond
 * create/list/delete: tags, a new registration token, and what a delete would affect.
 *
 * Regular hosts are the platform's: only administrators see or manage them. A BYOC host
 * belongs to one team (which an administrator enabled BYOC for): that team's owners and
 * admins create and manage it, its members see it, and only that team's capsules run on it.
 * Anyone else gets the same 404 as for a host that does not exist.
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Host, HostType, Role } from '../../db/schema.js';
import { newOpaqueToken, sha256Hex } from '../../infra/secrets.js';
import { newId } from '../ids.js';
import { tagsOf } from './tags.js';
import { FINISHED_CAPSULE_STATUSES, REGISTRATION_TOKEN_PREFIX, REGISTRATION_TOKEN_TTL_SEC, secondsFromNow } from './registry.js';

export interface HostCaller {
  userId: string;
  teamId: string;
  role: Role;
  isAdmin: boolean;
}

export { tagsOf };

export const TAG_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._:=-]{0,62}$/;

function notFound(id: string): WrennError {
  return new WrennError('not_found', `host ${id} not found`, { hostId: id });
}

/** The team a new host goes to, checked against the caller's rights (403 when not allowed). */
export async function checkCreate(ctx: ControlPlaneContext, caller: HostCaller, input: { type: HostType; teamId?: string | undefined }): Promise<string | null> {
  if (input.type === 'regular') {
    if (!caller.isAdmin) throw new WrennError('permission_denied', 'only administrators create regular hosts: create a BYOC host for your team (type "byoc")');
    if (input.teamId) throw new WrennError('invalid_argument', 'a regular host belongs to no team: leave team_id out, or create a BYOC host');
    return null;
  }
  const teamId = input.teamId ?? caller.teamId;
  const team = await ctx.db.selectFrom('teams').select(['id', 'byoc']).where('id', '=', teamId).executeTakeFirst();
  if (!team) throw new WrennError('not_found', `team ${teamId} not found`, { teamId });
  if (caller.isAdmin) return teamId;
  if (teamId !== caller.teamId || (caller.role !== 'owner' && caller.role !== 'admin')) {
    throw new WrennError('permission_denied', `only owners and admins of team ${teamId}, acting for it, create its BYOC hosts`);
  }
  if (!team.byoc) throw new WrennError('permission_denied', `BYOC is not enabled for team ${teamId}: ask an administrator (PUT /v1/admin/teams/${teamId}/byoc)`);
  return teamId;
}

/** The hosts the caller may see: all for administrators, their team's BYOC hosts otherwise. */
export async function visibleHosts(ctx: ControlPlaneContext, caller: HostCaller): Promise<Host[]> {
  let q = ctx.db.selectFrom('hosts').selectAll();
  if (!caller.isAdmin) q = q.where('type', '=', 'byoc').where('team_id', '=', caller.teamId);
  return q.orderBy('created_at', 'asc').orderBy('id', 'asc').execute();
}

/** A host the caller may see (404 otherwise); `manage` also needs owner/admin of its team. */
export async function hostFor(ctx: ControlPlaneContext, caller: HostCaller, id: string, manage = false): Promise<Host> {
  const host = await ctx.db.selectFrom('hosts').selectAll().where('id', '=', id).executeTakeFirst();
  if (!host) throw notFound(id);
  if (caller.isAdmin) return host;
  if (host.type !== 'byoc' || host.team_id !== caller.teamId) throw notFound(id);
  if (manage && caller.role !== 'owner' && caller.role !== 'admin') throw new WrennError('permission_denied', `only owners and admins of team ${caller.teamId} manage its hosts`);
  return host;
}

export async function addTag(ctx: ControlPlaneContext, host: Host, tag: string): Promise<string[]> {
  if (!TAG_PATTERN.test(tag)) throw new WrennError('invalid_argument', `tag ${JSON.stringify(tag)} must be 1-63 of letters, digits and . _ : = - (starting with a letter or digit)`);
  const tags = tagsOf(host);
  if (tags.includes(tag)) return tags;
  if (tags.length >= 64) throw new WrennError('invalid_argument', `host ${host.id} has 64 tags already`);
  const next = [...tags, tag];
  await ctx.db.updateTable('hosts').set({ tags: JSON.stringify(next) }).where('id', '=', host.id).execute();
  return next;
}

export async function removeTag(ctx: ControlPlaneContext, host: Host, tag: string): Promise<void> {
  const tags = tagsOf(host);
  if (!tags.includes(tag)) throw new WrennError('not_found', `host ${host.id} has no tag ${JSON.stringify(tag)}`, { hostId: host.id, tag });
  await ctx.db
    .updateTable('hosts')
    .set({ tags: JSON.stringify(tags.filter((t) => t !== tag)) })
    .where('id', '=', host.id)
    .execute();
}

/**
 * A new one-time registration token for a host that has not registered yet (a lost token);
 * earlier unused ones stop working. A registered host is a 409: it has its own credentials.
 */
export async function regenerateRegistrationToken(ctx: ControlPlaneContext, host: Host): Promise<string> {
  if (host.status !== 'pending') throw new WrennError('conflict', `host ${host.id} has registered already (status ${host.status}): delete it and create a new one to register another agent`);
  const token = newOpaqueToken(REGISTRATION_TOKEN_PREFIX);
  await ctx.db.transaction().execute(async (tx) => {
    await tx.deleteFrom('host_tokens').where('host_id', '=', host.id).where('kind', '=', 'registration').execute();
    await tx
      .insertInto('host_tokens')
      .values({ id: newId('htok'), host_id: host.id, kind: 'registration', token_hash: sha256Hex(token), expires_at: secondsFromNow(REGISTRATION_TOKEN_TTL_SEC) })
      .execute();
  });
  ctx.logger.info({ hostId: host.id }, 'host registration token regenerated');
  return token;
}

/** The capsules a delete of the host would affect (those not stopped). */
export async function liveCapsuleIds(ctx: ControlPlaneContext, hostId: string): Promise<string[]> {
  const rows = await ctx.db
    .selectFrom('capsules')
    .select(['id'])
    .where('host_id', '=', hostId)
    .where('status', 'not in', [...FINISHED_CAPSULE_STATUSES])
    .orderBy('created_at', 'asc')
    .execute();
  return rows.map((r) => r.id);
}

/**
 * Team members: any member may list them; owners and admins add, re-role and remove
 * members; only owners grant or take the owner role; a team never loses its last owner;
 * anyone may leave (unless they are that last owner).
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Role } from '../../db/schema.js';
import { MEMBER_INVITE, normalizeEmail, requireMembership, requireRole, type Db } from './common.js';
import { newId } from '../ids.js';
import { revokeKeysOf } from './keys.js';
import { iso, type MemberView } from './views.js';

async function memberRows(db: Db, teamId: string, userId?: string): Promise<MemberView[]> {
  let q = db
    .selectFrom('memberships')
    .innerJoin('users', 'users.id', 'memberships.user_id')
    .select(['users.id', 'users.email', 'users.name', 'memberships.role', 'memberships.created_at'])
    .where('memberships.team_id', '=', teamId);
  if (userId) q = q.where('users.id', '=', userId);
  const rows = await q.orderBy('memberships.created_at', 'asc').orderBy('users.id', 'asc').execute();
  return rows.map((r) => ({ user_id: r.id, email: r.email, name: r.name, role: r.role, joined_at: iso(r.created_at) }));
}

function memberNotFound(teamId: string, userId: string): WrennError {
  return new WrennError('not_found', `user ${userId} is not a member of team ${teamId}`, { teamId, userId });
}

async function ownerCount(db: Db, teamId: string): Promise<number> {
  // Locks the owners' rows so two concurrent demotions cannot both see "another owner left".
  const owners = await db.selectFrom('memberships').select('user_id').where('team_id', '=', teamId).where('role', '=', 'owner').forUpdate().execute();
  return owners.length;
}

function assertMayAssign(actorRole: Role, role: Role, teamId: string): void {
  if (role === 'owner' && actorRole !== 'owner') throw new WrennError('permission_denied', `only an owner of team ${teamId} can make someone owner`, { teamId });
}

export async function listMembers(ctx: ControlPlaneContext, actorId: string, teamId: string): Promise<MemberView[]> {
  await requireMembership(ctx.db, actorId, teamId);
  return memberRows(ctx.db, teamId);
}

export async function addMember(ctx: ControlPlaneContext, actorId: string, teamId: string, input: { email: string; role: Role }): Promise<MemberView> {
  return ctx.db.transaction().execute(async (trx) => {
    const actorRole = await requireRole(trx, actorId, teamId, 'admin', 'add members');
    assertMayAssign(actorRole, input.role, teamId);
    const email = normalizeEmail(input.email);
    // An email nobody has registered is invited (an inactive account that signing up with
    // that email claims), so the answer is the same whether or not the email exists.
    const user =
      (await trx.selectFrom('users').select(['id']).where('email', '=', email).executeTakeFirst()) ??
      (await trx
        .insertInto('users')
        .values({ id: newId('usr'), email, name: email.split('@')[0]!, password_hash: MEMBER_INVITE, active: false, default_team_id: null })
        .returning(['id'])
        .executeTakeFirstOrThrow());
    const existing = await trx.selectFrom('memberships').select('role').where('team_id', '=', teamId).where('user_id', '=', user.id).executeTakeFirst();
    if (existing) throw new WrennError('conflict', `${email} is already a member of team ${teamId} (role ${existing.role}): change their role instead`, { teamId, userId: user.id });
    await trx.insertInto('memberships').values({ team_id: teamId, user_id: user.id, role: input.role }).execute();
    return (await memberRows(trx, teamId, user.id))[0]!;
  });
}

export async function changeRole(ctx: ControlPlaneContext, actorId: string, teamId: string, userId: string, role: Role): Promise<MemberView> {
  const member = await ctx.db.transaction().execute(async (trx) => {
    const actorRole = await requireRole(trx, actorId, teamId, 'admin', "change members' roles");
    const target = await trx.selectFrom('memberships').select('role').where('team_id', '=', teamId).where('user_id', '=', userId).executeTakeFirst();
    if (!target) throw memberNotFound(teamId, userId);
    assertMayAssign(actorRole, role, teamId);
    if (target.role === 'owner' && role !== 'owner') {
      if (actorRole !== 'owner') throw new WrennError('permission_denied', `only an owner of team ${teamId} can change an owner's role`, { teamId });
      if ((await ownerCount(trx, teamId)) <= 1) {
        throw new WrennError('conflict', `user ${userId} is the last owner of team ${teamId}: make another member owner first`, { teamId, userId });
      }
    }
    await trx.updateTable('memberships').set({ role }).where('team_id', '=', teamId).where('user_id', '=', userId).execute();
    return (await memberRows(trx, teamId, userId))[0]!;
  });
  ctx.principals.clear(); // cached sessions carry the old role
  return member;
}

export async function removeMember(ctx: ControlPlaneContext, actorId: string, teamId: string, userId: string): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const actorRole = await requireMembership(trx, actorId, teamId);
    const target = await trx.selectFrom('memberships').select('role').where('team_id', '=', teamId).where('user_id', '=', userId).executeTakeFirst();
    if (!target) throw memberNotFound(teamId, userId);
    const leaving = actorId === userId;
    if (!leaving) {
      await requireRole(trx, actorId, teamId, 'admin', 'remove members');
      if (target.role === 'owner' && actorRole !== 'owner') throw new WrennError('permission_denied', `only an owner of team ${teamId} can remove an owner`, { teamId });
    }
    if (target.role === 'owner' && (await ownerCount(trx, teamId)) <= 1) {
      throw new WrennError('conflict', `user ${userId} is the last owner of team ${teamId}: make another member owner first, or delete the team`, { teamId, userId });
    }
    await trx.deleteFrom('memberships').where('team_id', '=', teamId).where('user_id', '=', userId).execute();
    // What they hold for this team dies with the membership: the keys they created, and
    // their JWTs for it, also after a later re-add (the version outlives the row).
    await revokeKeysOf(trx, userId, teamId, 'member_removed');
    await trx
      .insertInto('membership_versions')
      .values({ team_id: teamId, user_id: userId, version: 1 })
      .onConflict((oc) => oc.columns(['team_id', 'user_id']).doUpdateSet((eb) => ({ version: eb('membership_versions.version', '+', 1) })))
      .execute();
  });
  // The removed member's cached sessions and keys for this team end now; open WebSockets
  // re-check their credentials on this and close.
  ctx.principals.clear();
}

/**
 * Teams the caller belongs to: list, create (the creator is owner), read, rename (owner or
 * admin), delete (owner; refused while capsules are not stopped), and switching the
 * session to another team.
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { createTeamWithOwner, issueSession, liveCapsuleCount, requireMembership, requireRole, teamNotFound } from './common.js';
import { teamView, type Session, type TeamView } from './views.js';

export interface TeamDetailView extends TeamView {
  member_count: number;
}

export async function listTeams(ctx: ControlPlaneContext, userId: string): Promise<TeamView[]> {
  const rows = await ctx.db
    .selectFrom('teams')
    .innerJoin('memberships', 'memberships.team_id', 'teams.id')
    .select(['teams.id', 'teams.name', 'teams.created_at', 'memberships.role'])
    .where('memberships.user_id', '=', userId)
    .orderBy('teams.created_at', 'asc')
    .orderBy('teams.id', 'asc')
    .execute();
  return rows.map((r) => teamView(r, r.role));
}

export async function createTeam(ctx: ControlPlaneContext, userId: string, name: string): Promise<TeamView> {
  const trimmed = name.trim();
  if (!trimmed) throw new WrennError('invalid_argument', 'the team name cannot be empty');
  return ctx.db.transaction().execute((trx) => createTeamWithOwner(trx, userId, trimmed));
}

export async function getTeam(ctx: ControlPlaneContext, userId: string, teamId: string): Promise<TeamDetailView> {
  const role = await requireMembership(ctx.db, userId, teamId);
  const team = await ctx.db.selectFrom('teams').selectAll().where('id', '=', teamId).executeTakeFirst();
  if (!team) throw teamNotFound(teamId);
  const count = await ctx.db
    .selectFrom('memberships')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('team_id', '=', teamId)
    .executeTakeFirstOrThrow();
  return { ...teamView(team, role), member_count: Number(count.n) };
}

export async function renameTeam(ctx: ControlPlaneContext, userId: string, teamId: string, name: string): Promise<TeamView> {
  const role = await requireRole(ctx.db, userId, teamId, 'admin', 'rename the team');
  const trimmed = name.trim();
  if (!trimmed) throw new WrennError('invalid_argument', 'the team name cannot be empty');
  const team = await ctx.db.updateTable('teams').set({ name: trimmed }).where('id', '=', teamId).returningAll().executeTakeFirst();
  if (!team) throw teamNotFound(teamId);
  return teamView(team, role);
}

/**
 * Deletes a team with its keys, templates and capsule records. Refused while capsules
 * still run (they would be orphaned on their hosts) and for the caller's last team.
 */
export async function deleteTeam(ctx: ControlPlaneContext, userId: string, teamId: string): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    await requireRole(trx, userId, teamId, 'owner', 'delete the team');
    const live = await liveCapsuleCount(trx, teamId);
    if (live > 0) throw new WrennError('conflict', `team ${teamId} still has ${live} capsule(s) that are not stopped: delete them first`, { teamId, capsules: live });
    const mine = await trx.selectFrom('memberships').select('team_id').where('user_id', '=', userId).execute();
    if (mine.length <= 1) {
      throw new WrennError('conflict', `team ${teamId} is your only team: create another team first, or delete your account (DELETE /v1/me)`, { teamId });
    }
    await trx.deleteFrom('teams').where('id', '=', teamId).execute();
  });
  ctx.principals.clear(); // the team's keys and sessions end with it
}

/** A new session token for another team the caller belongs to. */
export async function switchTeam(ctx: ControlPlaneContext, userId: string, teamId: string): Promise<Session> {
  const role = await requireMembership(ctx.db, userId, teamId);
  const user = await ctx.db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
  const team = await ctx.db.selectFrom('teams').selectAll().where('id', '=', teamId).executeTakeFirst();
  if (!user) throw new WrennError('unauthenticated', 'this user no longer exists');
  if (!team) throw teamNotFound(teamId);
  return issueSession(ctx, user, teamView(team, role));
}

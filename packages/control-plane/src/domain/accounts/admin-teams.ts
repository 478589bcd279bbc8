/**
 * Administration of teams (is_admin only): every team with its member count and BYOC flag,
 * enabling BYOC (the team's owners and admins may then bring their own hosts), and
 * deleting a team (refused while it has capsules that are not stopped).
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { liveCapsuleCount } from './common.js';
import { iso, teamSlug } from './views.js';

export interface AdminTeamView {
  id: string;
  name: string;
  slug: string;
  is_byoc: boolean;
  member_count: number;
  created_at: string;
}

export async function adminListTeams(ctx: ControlPlaneContext, page: { limit: number; offset: number }): Promise<{ teams: AdminTeamView[]; total: number }> {
  const rows = await ctx.db
    .selectFrom('teams')
    .selectAll('teams')
    .select((eb) => eb.selectFrom('memberships').whereRef('memberships.team_id', '=', 'teams.id').select(eb.fn.countAll<string>().as('n')).as('member_count'))
    .orderBy('teams.created_at', 'asc')
    .orderBy('teams.id', 'asc')
    .limit(page.limit)
    .offset(page.offset)
    .execute();
  const total = await ctx.db.selectFrom('teams').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return {
    teams: rows.map((t) => ({ id: t.id, name: t.name, slug: teamSlug(t.name), is_byoc: t.byoc, member_count: Number(t.member_count ?? 0), created_at: iso(t.created_at) })),
    total: Number(total.n),
  };
}

export async function setTeamByoc(ctx: ControlPlaneContext, teamId: string, enabled: boolean): Promise<void> {
  const row = await ctx.db.updateTable('teams').set({ byoc: enabled }).where('id', '=', teamId).returning('id').executeTakeFirst();
  if (!row) throw new WrennError('not_found', `team ${teamId} not found`, { teamId });
}

export async function adminDeleteTeam(ctx: ControlPlaneContext, teamId: string): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const team = await trx.selectFrom('teams').select('id').where('id', '=', teamId).forUpdate().executeTakeFirst();
    if (!team) throw new WrennError('not_found', `team ${teamId} not found`, { teamId });
    const live = await liveCapsuleCount(trx, teamId);
    if (live > 0) throw new WrennError('conflict', `team ${teamId} still has ${live} capsule(s) that are not stopped: delete them first`, { teamId, capsules: live });
    await trx.updateTable('users').set({ default_team_id: null }).where('default_team_id', '=', teamId).execute();
    await trx.deleteFrom('teams').where('id', '=', teamId).execute();
  });
  ctx.principals.clear(); // the team's keys and sessions end with it
}

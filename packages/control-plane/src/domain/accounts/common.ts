/**
 * Pieces every account operation shares: membership lookups (a team the caller is not in
 * is a 404, never a 403, so team ids cannot be probed), role ranks, email normalisation,
 * personal teams and issuing a session JWT.
 */
import type { Kysely } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Database, Role, User } from '../../db/schema.js';
import { newId } from '../ids.js';
import { teamView, userView, type Session, type TeamView } from './views.js';

export type Db = Kysely<Database>;

export const ROLE_RANK: Record<Role, number> = { member: 1, admin: 2, owner: 3 };

export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase();
}

/** Postgres (and PGlite) unique_violation. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: unknown })?.code === '23505';
}

export function teamNotFound(teamId: string): WrennError {
  return new WrennError('not_found', `team ${teamId} not found (or you are not a member of it)`, { teamId });
}

/** The caller's role in the team; 404 when they are not a member. */
export async function requireMembership(db: Db, userId: string, teamId: string): Promise<Role> {
  const m = await db.selectFrom('memberships').select('role').where('team_id', '=', teamId).where('user_id', '=', userId).executeTakeFirst();
  if (!m) throw teamNotFound(teamId);
  return m.role;
}

/** Like requireMembership, and refuses (403) a role below `min`. */
export async function requireRole(db: Db, userId: string, teamId: string, min: Role, action: string): Promise<Role> {
  const role = await requireMembership(db, userId, teamId);
  if (ROLE_RANK[role] < ROLE_RANK[min]) {
    throw new WrennError('permission_denied', `only a team ${min === 'owner' ? 'owner' : 'owner or admin'} can ${action} (your role is ${role})`, { teamId, role });
  }
  return role;
}

/** Capsules that still hold (or may hold) resources on a host. */
export async function liveCapsuleCount(db: Db, teamId: string): Promise<number> {
  const row = await db
    .selectFrom('capsules')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('team_id', '=', teamId)
    .where('status', 'not in', ['stopped', 'error'])
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function createTeamWithOwner(db: Db, ownerId: string, name: string): Promise<TeamView> {
  const team = await db.insertInto('teams').values({ id: newId('team'), name }).returningAll().executeTakeFirstOrThrow();
  await db.insertInto('memberships').values({ team_id: team.id, user_id: ownerId, role: 'owner' }).execute();
  return teamView(team, 'owner');
}

export function personalTeamName(user: Pick<User, 'name' | 'email'>): string {
  return `${user.name || user.email.split('@')[0]}'s team`;
}

/**
 * The team a session starts in: the user's default team if they are still a member, else
 * their oldest membership; a user left without any team gets a new personal team, so a
 * valid login always yields a usable token.
 */
export async function sessionTeam(db: Db, user: User): Promise<TeamView> {
  const rows = await db
    .selectFrom('memberships')
    .innerJoin('teams', 'teams.id', 'memberships.team_id')
    .select(['teams.id', 'teams.name', 'teams.created_at', 'memberships.role', 'memberships.created_at as joined_at'])
    .where('memberships.user_id', '=', user.id)
    .orderBy('memberships.created_at', 'asc')
    .execute();
  const chosen = rows.find((r) => r.id === user.default_team_id) ?? rows[0];
  if (chosen) return teamView(chosen, chosen.role);
  const team = await createTeamWithOwner(db, user.id, personalTeamName(user));
  await db.updateTable('users').set({ default_team_id: team.id }).where('id', '=', user.id).execute();
  return team;
}

/** A JWT for `team`, valid until it expires or the user's sessions are revoked (`sv`, see sessions.ts). */
export async function issueSession(ctx: ControlPlaneContext, user: User, team: TeamView): Promise<Session> {
  const mv = await ctx.db.selectFrom('membership_versions').select('version').where('team_id', '=', team.id).where('user_id', '=', user.id).executeTakeFirst();
  const token = await ctx.jwt.sign({ kind: 'user', user: user.id, team: team.id, role: team.role, is_admin: user.is_admin, sv: user.session_version, ...(mv ? { mv: mv.version } : {}) });
  return { token, user_id: user.id, team_id: team.id, email: user.email, name: user.name, user: userView(user), team };
}

/**
 * The password hash of an account made by adding an unregistered email to a team: inactive,
 * no password; signing up with the email claims it (nothing else does).
 */
export const MEMBER_INVITE = '!member-invite';

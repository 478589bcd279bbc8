/**
 * Ending a user's sessions: every user JWT carries the user's session version at issue
 * (claim `sv`); incrementing `users.session_version` makes all of them invalid at once
 * (changing the password, logout-all, an administrator disabling the account or resetting
 * its password). API keys are not sessions: they belong to a team and are revoked one by
 * one (DELETE /v1/api-keys/{id}), so none of this touches them.
 *
 * Freshness: this replica forgets the user's cached principals at once; another replica
 * may accept a revoked token for up to WRENN_AUTH_CACHE_TTL_SEC (its cache entry's life),
 * never longer, as its next check reads the new version from the database.
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { User } from '../../db/schema.js';
import type { Db } from './common.js';
import { teamView, type TeamView } from './views.js';

/** Increments the user's session version in `db` (the caller's transaction, if any); the updated row, or undefined if there is no such user. */
export async function bumpSessionVersion(db: Db, userId: string, set: { password_hash?: string } = {}): Promise<User | undefined> {
  return db
    .updateTable('users')
    .set((eb) => ({ ...set, session_version: eb('session_version', '+', 1) }))
    .where('id', '=', userId)
    .returningAll()
    .executeTakeFirst();
}

/**
 * Drops the user's cached sessions on this replica. Call it after the version change is
 * committed: a lookup that ran before the commit would otherwise cache the old version again.
 */
export function forgetCachedSessions(ctx: ControlPlaneContext, userId: string): void {
  ctx.principals.forget((p) => p.kind === 'user' && p.userId === userId);
}

/** POST /v1/auth/logout-all: every JWT of the user, on every team, stops working. */
export async function logoutEverywhere(ctx: ControlPlaneContext, userId: string): Promise<void> {
  const user = await bumpSessionVersion(ctx.db, userId);
  forgetCachedSessions(ctx, userId);
  if (!user) throw new WrennError('unauthenticated', 'this user no longer exists');
}

/** The team `teamId` as the user's member sees it, or undefined if they are no longer a member. */
export async function memberTeam(db: Db, userId: string, teamId: string): Promise<TeamView | undefined> {
  const row = await db
    .selectFrom('teams')
    .innerJoin('memberships', 'memberships.team_id', 'teams.id')
    .select(['teams.id', 'teams.name', 'teams.created_at', 'memberships.role'])
    .where('teams.id', '=', teamId)
    .where('memberships.user_id', '=', userId)
    .executeTakeFirst();
  return row ? teamView(row, row.role) : undefined;
}

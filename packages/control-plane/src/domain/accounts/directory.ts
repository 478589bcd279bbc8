/**
 * Finding users: the email-prefix search behind "add a member" (any logged-in user; only
 * ids and emails come back, at most 10) and the administrators' paged user list with team
 * counts.
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { userView, type UserView } from './views.js';

export const SEARCH_LIMIT = 10;

/** LIKE metacharacters in a user's input match themselves, not any character. */
function likeEscape(s: string): string {
  return s.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export async function searchUsers(ctx: ControlPlaneContext, prefix: string): Promise<Array<{ user_id: string; email: string }>> {
  const p = prefix.trim().toLowerCase();
  // As Wrenn: an "@" and 3 characters, so the search cannot enumerate the user base.
  if (p.length < 3 || !p.includes('@')) throw new WrennError('invalid_argument', "the email prefix must be at least 3 characters and contain '@'");
  const rows = await ctx.db
    .selectFrom('users')
    .select(['id', 'email'])
    .where(sql<boolean>`lower(email) like ${likeEscape(p) + '%'} escape '\\'`)
    .where('active', '=', true)
    .orderBy('email', 'asc')
    .limit(SEARCH_LIMIT)
    .execute();
  return rows.map((r) => ({ user_id: r.id, email: r.email }));
}

export interface AdminUserView extends UserView {
  /** `active` or `disabled` (Wrenn's status). */
  status: 'active' | 'disabled';
  teams_joined: number;
  teams_owned: number;
}

export interface UserPage {
  users: AdminUserView[];
  total: number;
  page: number;
  per_page: number;
  total_pages: number;
}

export async function adminListUsers(ctx: ControlPlaneContext, q: { limit: number; offset: number }): Promise<AdminUserView[]> {
  const rows = await ctx.db
    .selectFrom('users')
    .selectAll('users')
    .select((eb) => [
      eb.selectFrom('memberships').whereRef('memberships.user_id', '=', 'users.id').select(eb.fn.countAll<string>().as('n')).as('teams_joined'),
      eb
        .selectFrom('memberships')
        .whereRef('memberships.user_id', '=', 'users.id')
        .where('memberships.role', '=', 'owner')
        .select(eb.fn.countAll<string>().as('n'))
        .as('teams_owned'),
    ])
    .orderBy('users.created_at', 'asc')
    .orderBy('users.id', 'asc')
    .limit(q.limit)
    .offset(q.offset)
    .execute();
  return rows.map((u) => ({
    ...userView(u),
    status: u.active ? 'active' : 'disabled',
    teams_joined: Number(u.teams_joined ?? 0),
    teams_owned: Number(u.teams_owned ?? 0),
  }));
}

export async function countUsers(ctx: ControlPlaneContext): Promise<number> {
  const row = await ctx.db.selectFrom('users').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
  return Number(row.n);
}

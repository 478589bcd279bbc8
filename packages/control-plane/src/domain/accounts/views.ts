/** Wire shapes of accounts, teams, members and API keys (snake_case, ISO datetimes with a zone). */
import type { ApiKey, Role, Team, User } from '../../db/schema.js';

export interface UserView {
  id: string;
  email: string;
  name: string;
  is_admin: boolean;
  active: boolean;
  created_at: string;
}

export interface TeamView {
  id: string;
  name: string;
  slug: string;
  created_at: string;
  /** The caller's role in the team. */
  role: Role;
}

export interface MemberView {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  joined_at: string;
}

export interface ApiKeyView {
  id: string;
  team_id: string;
  name: string;
  key_prefix: string;
  created_by: string | null;
  created_at: string;
  last_used: string | null;
  last_used_at: string | null;
  /** In lists: `suspended` while the key's creator is disabled (refused until re-enabled). */
  status?: 'active' | 'suspended';
}

/**
 * A logged-in user: their JWT (for one team), themselves and that team. The flat
 * `user_id`/`team_id`/`email`/`name` are Wrenn's AuthResponse; `user` and `team` add to it.
 */
export interface Session {
  token: string;
  user_id: string;
  team_id: string;
  email: string;
  name: string;
  user: UserView;
  team: TeamView;
}

export const iso = (d: Date | string): string => new Date(d).toISOString();

export function userView(u: Pick<User, 'id' | 'email' | 'name' | 'is_admin' | 'active' | 'created_at'>): UserView {
  return { id: u.id, email: u.email, name: u.name, is_admin: u.is_admin, active: u.active, created_at: iso(u.created_at) };
}

/** A URL-friendly form of a team name (Wrenn's teams carry one). */
export function teamSlug(name: string): string {
  return (
    name
      .normalize('NFKD')
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 63) || 'team'
  );
}

export function teamView(t: Pick<Team, 'id' | 'name' | 'created_at'>, role: Role): TeamView {
  return { id: t.id, name: t.name, slug: teamSlug(t.name), created_at: iso(t.created_at), role };
}

export function apiKeyView(k: Pick<ApiKey, 'id' | 'team_id' | 'name' | 'key_prefix' | 'created_by' | 'created_at' | 'last_used_at'>): ApiKeyView {
  const lastUsed = k.last_used_at ? iso(k.last_used_at) : null;
  return {
    id: k.id,
    team_id: k.team_id,
    name: k.name,
    key_prefix: k.key_prefix,
    created_by: k.created_by,
    created_at: iso(k.created_at),
    last_used: lastUsed,
    last_used_at: lastUsed,
  };
}

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
  name: string;
  key_prefix: string;
  created_by: string | null;
  created_at: string;
  last_used_at: string | null;
  /** In lists: `suspended` while the key's creator is disabled (refused until re-enabled). */
  status?: 'active' | 'suspended';
}

/** A logged-in user: their JWT (for one team), themselves and that team. */
export interface Session {
  token: string;
  user: UserView;
  team: TeamView;
}

export const iso = (d: Date | string): string => new Date(d).toISOString();

export function userView(u: Pick<User, 'id' | 'email' | 'name' | 'is_admin' | 'active' | 'created_at'>): UserView {
  return { id: u.id, email: u.email, name: u.name, is_admin: u.is_admin, active: u.active, created_at: iso(u.created_at) };
}

export function teamView(t: Pick<Team, 'id' | 'name' | 'created_at'>, role: Role): TeamView {
  return { id: t.id, name: t.name, created_at: iso(t.created_at), role };
}

export function apiKeyView(k: Pick<ApiKey, 'id' | 'name' | 'key_prefix' | 'created_by' | 'created_at' | 'last_used_at'>): ApiKeyView {
  return {
    id: k.id,
    name: k.name,
    key_prefix: k.key_prefix,
    created_by: k.created_by,
    created_at: iso(k.created_at),
    last_used_at: k.last_used_at ? iso(k.last_used_at) : null,
  };
}

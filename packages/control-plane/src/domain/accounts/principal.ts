/**
 * Who is calling, independent of the transport: credentials (an `X-API-Key: wrn_...` team
 * key stored as SHA-256, or a `Bearer` JWT of a user or a host) resolved to a principal,
 * and the check of a principal against a route's rules. HTTP routes (http/plugins/auth.ts)
 * and WebSockets (ws/) both use it.
 */
import { WrennError } from '@wrenn/shared';
import type { ContextBase } from '../../context-base.js';
import type { PrincipalCache } from '../../infra/principal-cache.js';
import type { KeyUseWrites } from './key-use.js';
import type { Principal, PrincipalKind } from './principal-type.js';
import { API_KEY_PATTERN, sha256Hex } from '../../infra/secrets.js';

export type { Principal, PrincipalKind } from './principal-type.js';

/** What resolving credentials needs: the database, tokens, and the caches it reads and feeds. */
type PrincipalContext = ContextBase & { readonly principals: PrincipalCache<Principal>; readonly keyUse: KeyUseWrites };

/**
 * Resolves credentials (headers or, for WebSockets, the first message) to a principal.
 * Team principals (API keys, user JWTs) come from `ctx.principals` when seen in the last
 * few seconds (see infra/principal-cache.ts); host JWTs are checked every time.
 */
export async function resolvePrincipal(
  ctx: PrincipalContext,
  creds: { apiKey?: string | undefined; bearer?: string | undefined },
): Promise<Principal | undefined> {
  const cache = ctx.principals;
  if (creds.apiKey) {
    if (!API_KEY_PATTERN.test(creds.apiKey)) throw new WrennError('unauthenticated', 'malformed API key (expected wrn_ followed by 32 hex digits)');
    const keyHash = sha256Hex(creds.apiKey);
    const cacheKey = `k:${keyHash}`;
    const cached = cache.get(cacheKey);
    if (cached?.kind === 'apiKey') {
      ctx.keyUse.record(cached.keyId, null);
      return cached;
    }
    return cache.shared(cacheKey, async () => {
      const generation = cache.generation;
      const row = await ctx.db
        .selectFrom('api_keys')
        .leftJoin('users', 'users.id', 'api_keys.created_by')
        .leftJoin('memberships', (j) => j.onRef('memberships.team_id', '=', 'api_keys.team_id').onRef('memberships.user_id', '=', 'api_keys.created_by'))
        .select(['api_keys.id', 'api_keys.team_id', 'api_keys.created_by', 'api_keys.revoked_at', 'api_keys.revoked_reason', 'api_keys.last_used_at', 'users.active as creator_active', 'memberships.role as creator_role'])
        .where('api_keys.key_hash', '=', keyHash)
        .executeTakeFirst();
      if (!row) throw new WrennError('unauthenticated', 'unknown or revoked API key');
      if (row.revoked_at) throw new WrennError('unauthenticated', keyRevokedMessage(row.revoked_reason));
      // A key acts for its creator: it is suspended while they are disabled, and dead once
      // they are no longer a member (removal also revokes it; this covers rows changed by hand).
      if (row.created_by && row.creator_active === false) throw new WrennError('unauthenticated', 'this API key is suspended: the user who created it is disabled');
      if (row.created_by && !row.creator_role) throw new WrennError('unauthenticated', 'this API key no longer works: the user who created it is not a member of the team any more');
      ctx.keyUse.record(row.id, row.last_used_at);
      const principal: Principal = { kind: 'apiKey', keyId: row.id, teamId: row.team_id, userId: row.created_by };
      cache.set(cacheKey, principal, generation);
      return principal;
    });
  }
  if (creds.bearer) {
    const cacheKey = `j:${creds.bearer}`;
    const cached = cache.get(cacheKey);
    if (cached) return cached;
    return cache.shared(cacheKey, () => lookupToken(ctx, creds.bearer!, cacheKey));
  }
  return undefined;
}

/** A JWT's principal from the database (user and membership, or host), cached unless a host's. */
async function lookupToken(ctx: PrincipalContext, bearer: string, cacheKey: string): Promise<Principal> {
  const cache = ctx.principals;
  const generation = cache.generation;
  const claims = await ctx.jwt.verify(bearer);
  if (claims.kind === 'host') {
    const host = await ctx.db.selectFrom('hosts').select(['id']).where('id', '=', claims.host).executeTakeFirst();
    if (!host) throw new WrennError('unauthenticated', 'this host was deleted');
    return { kind: 'host', hostId: host.id };
  }
  const m = await ctx.db
    .selectFrom('users')
    .innerJoin('memberships', 'memberships.user_id', 'users.id')
    .leftJoin('membership_versions', (j) => j.onRef('membership_versions.user_id', '=', 'users.id').onRef('membership_versions.team_id', '=', 'memberships.team_id'))
    .select(['users.id', 'users.is_admin', 'users.active', 'users.session_version', 'memberships.role', 'membership_versions.version as membership_version'])
    .where('users.id', '=', claims.user)
    .where('memberships.team_id', '=', claims.team)
    .executeTakeFirst();
  if (!m || !m.active) throw new WrennError('unauthenticated', 'the user is disabled or no longer a member of this team');
  // Revoked sessions (password changed, logout-all, disabled or reset by an administrator)
  // bumped the user's version. This replica forgets the user's cached entries when it
  // revokes; other replicas refuse the token once their entry expires (WRENN_AUTH_CACHE_TTL_SEC).
  if ((claims.sv ?? 0) !== m.session_version) {
    throw new WrennError('unauthenticated', 'this session was ended (password changed, logged out everywhere, or reset by an administrator): log in again');
  }
  // Issued for an earlier membership of this team (the user was removed since, maybe re-added).
  if ((claims.mv ?? 0) !== (m.membership_version ?? 0)) {
    throw new WrennError('unauthenticated', 'this session was issued before you were removed from the team: log in again');
  }
  const principal: Principal = { kind: 'user', userId: m.id, teamId: claims.team, role: m.role, isAdmin: m.is_admin };
  // Never past the token's own expiry: an expired JWT is refused on time.
  cache.set(cacheKey, principal, generation, typeof claims.exp === 'number' ? claims.exp * 1000 : Date.now());
  return principal;
}

function keyRevokedMessage(reason: string | null): string {
  if (reason === 'member_removed') return 'this API key was revoked: the user who created it was removed from the team';
  if (reason === 'user_deleted') return 'this API key was revoked: the user who created it deleted their account';
  return 'unknown or revoked API key';
}

/** The credentials of a request's headers (an HTTP request or a WebSocket upgrade). */
export function credentialsFrom(headers: Record<string, string | string[] | undefined>): { apiKey?: string; bearer?: string } {
  const apiKey = headers['x-api-key'];
  const authz = headers.authorization;
  const bearer = typeof authz === 'string' && /^Bearer\s+/i.test(authz) ? authz.replace(/^Bearer\s+/i, '').trim() : undefined;
  return {
    ...(typeof apiKey === 'string' && apiKey ? { apiKey } : {}),
    ...(bearer ? { bearer } : {}),
  };
}

export interface AuthScopeOptions {
  allow: PrincipalKind[];
  admin?: boolean;
}

/** Checks a resolved principal against a scope's rules. */
export function authorize(principal: Principal | undefined, opts: AuthScopeOptions): Principal {
  if (!principal) {
    const how = opts.allow.includes('apiKey') ? 'an X-API-Key header or a Bearer token' : 'a Bearer token (log in)';
    throw new WrennError('unauthenticated', `authentication required: send ${how}`);
  }
  if (!opts.allow.includes(principal.kind)) {
    const need = opts.allow.includes('user') ? 'a user token (API keys cannot manage accounts, keys, teams or hosts)' : `a ${opts.allow.join(' or ')} credential`;
    throw new WrennError('permission_denied', `this route needs ${need}`);
  }
  if (opts.admin && !(principal.kind === 'user' && principal.isAdmin)) {
    throw new WrennError('permission_denied', 'this route is for administrators');
  }
  return principal;
}

/**
 * Team API keys: `wrn_` + 32 hex, shown once at creation and stored only as SHA-256.
 * Any member can create one; its creator, or a team owner or admin, can revoke it.
 * A revoked key is refused at once: revoking clears the authentication cache (ctx.principals).
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { newApiKey, sha256Hex } from '../../infra/secrets.js';
import { newId } from '../ids.js';
import { ROLE_RANK, requireMembership, type Db } from './common.js';
import { apiKeyView, type ApiKeyView } from './views.js';

/** Characters of the key kept for recognising it in lists (`wrn_` + 8 hex). */
const PREFIX_LENGTH = 12;

export interface CreatedApiKey extends ApiKeyView {
  /** The whole key: returned this once, never again. */
  key: string;
}

export async function createApiKey(db: Db, teamId: string, userId: string | null, name: string): Promise<CreatedApiKey> {
  const trimmed = name.trim();
  if (!trimmed) throw new WrennError('invalid_argument', 'the key name cannot be empty');
  const key = newApiKey();
  const row = await db
    .insertInto('api_keys')
    .values({ id: newId('key'), team_id: teamId, created_by: userId, name: trimmed, key_hash: sha256Hex(key), key_prefix: key.slice(0, PREFIX_LENGTH) })
    .returningAll()
    .executeTakeFirstOrThrow();
  return { ...apiKeyView(row), key };
}

/**
 * The team's keys that are not revoked (revoked ones are gone from the list); a key whose
 * creator is disabled is listed `suspended`: it works again if they are re-enabled.
 */
export async function listApiKeys(ctx: ControlPlaneContext, teamId: string): Promise<ApiKeyView[]> {
  const rows = await ctx.db
    .selectFrom('api_keys')
    .leftJoin('users', 'users.id', 'api_keys.created_by')
    .selectAll('api_keys')
    .select('users.active as creator_active')
    .where('api_keys.team_id', '=', teamId)
    .where('api_keys.revoked_at', 'is', null)
    .orderBy('api_keys.created_at', 'asc')
    .orderBy('api_keys.id', 'asc')
    .execute();
  return rows.map((r) => ({ ...apiKeyView(r), status: r.creator_active === false ? 'suspended' : 'active' }));
}

/**
 * Revokes what `userId` created in `teamId` (every team when unset) as they leave it:
 * their keys stop working, marked with the reason. Runs in the caller's transaction.
 */
export async function revokeKeysOf(db: Db, userId: string, teamId: string | undefined, reason: 'member_removed' | 'user_deleted'): Promise<number> {
  let q = db.updateTable('api_keys').set({ revoked_at: sql`now()` as never, revoked_reason: reason }).where('created_by', '=', userId).where('revoked_at', 'is', null);
  if (teamId) q = q.where('team_id', '=', teamId);
  const res = await q.executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export async function revokeApiKey(ctx: ControlPlaneContext, teamId: string, userId: string, keyId: string): Promise<void> {
  const key = await ctx.db.selectFrom('api_keys').select(['id', 'created_by']).where('id', '=', keyId).where('team_id', '=', teamId).where('revoked_at', 'is', null).executeTakeFirst();
  if (!key) throw new WrennError('not_found', `API key ${keyId} not found in this team (or already revoked)`, { keyId });
  if (key.created_by !== userId) {
    const role = await requireMembership(ctx.db, userId, teamId);
    if (ROLE_RANK[role] < ROLE_RANK.admin) throw new WrennError('permission_denied', `only the key's creator or a team owner or admin can revoke key ${keyId}`, { keyId });
  }
  await ctx.db.updateTable('api_keys').set({ revoked_at: sql`now()` as never, revoked_reason: 'revoked' }).where('id', '=', keyId).where('revoked_at', 'is', null).execute();
  ctx.principals.clear();
}

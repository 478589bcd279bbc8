/**
 * Administration of users (is_admin only): list them, create one inactive with an
 * activation token, enable/disable (disabling ends every session of the user for good),
 * grant/revoke admin, reset a password (activation.ts). The last active administrator
 * cannot be disabled or demoted, so the server always keeps one.
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { userView, type UserView } from './views.js';

export async function listUsers(ctx: ControlPlaneContext, page: { limit: number; offset: number }): Promise<UserView[]> {
  const rows = await ctx.db.selectFrom('users').selectAll().orderBy('created_at', 'asc').orderBy('id', 'asc').limit(page.limit).offset(page.offset).execute();
  return rows.map(userView);
}

export async function updateUser(ctx: ControlPlaneContext, userId: string, patch: { active?: boolean | undefined; is_admin?: boolean | undefined }): Promise<UserView> {
  const view = await ctx.db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').selectAll().where('id', '=', userId).forUpdate().executeTakeFirst();
    if (!user) throw new WrennError('not_found', `user ${userId} not found`, { userId });
    const losesAdmin = user.is_admin && user.active && (patch.active === false || patch.is_admin === false);
    if (losesAdmin) {
      const admins = await trx.selectFrom('users').select('id').where('is_admin', '=', true).where('active', '=', true).forUpdate().execute();
      if (admins.length <= 1) throw new WrennError('conflict', `user ${userId} is the last active administrator: make another user administrator first`, { userId });
    }
    const set: { active?: boolean; is_admin?: boolean } = {};
    if (patch.active !== undefined) set.active = patch.active;
    if (patch.is_admin !== undefined) set.is_admin = patch.is_admin;
    if (Object.keys(set).length === 0) return userView(user);
    // A disabled account must not come back through an activation token it never used,
    // nor through its old sessions once re-enabled: disabling ends them for good.
    if (patch.active === false) await trx.deleteFrom('user_tokens').where('user_id', '=', userId).where('used_at', 'is', null).execute();
    const updated = await trx
      .updateTable('users')
      .set((eb) => ({ ...set, ...(patch.active === false ? { session_version: eb('session_version', '+', 1) } : {}) }))
      .where('id', '=', userId)
      .returningAll()
      .executeTakeFirstOrThrow();
    return userView(updated);
  });
  // Disabled or demoted: the user's cached sessions must not outlive the change (after the
  // commit, so no lookup can cache the old state again).
  ctx.principals.clear();
  return view;
}

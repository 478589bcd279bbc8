/**
 * First start (`wrenn up`): make sure the server has an administrator, so a new install
 * can call the API at once. Creates the admin user, their team and an API key only when
 * no administrator exists; otherwise reports the existing one and creates nothing.
 */
import { randomBytes } from 'node:crypto';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { hashPassword } from '../../infra/secrets.js';
import { sessionTeam } from './common.js';
import { createApiKey } from './keys.js';
import { assertPasswordStrength, createUserWithTeam } from './users.js';
import { userView, type TeamView, type UserView } from './views.js';

export const DEFAULT_ADMIN_EMAIL = 'admin@wrenn.local';

export interface EnsureAdminResult {
  /** True when this call created the administrator. */
  created: boolean;
  user: UserView;
  team: TeamView;
  /** The plain API key (`wrn_...`), only when created. */
  apiKey?: string;
  /** The generated password, only when created without one. */
  password?: string;
}

/** @example const { created, apiKey, password } = await ensureAdmin(ctx, { email: 'me@example.com' }); */
export async function ensureAdmin(ctx: ControlPlaneContext, opts: { email?: string; password?: string } = {}): Promise<EnsureAdminResult> {
  const existing = await ctx.db.selectFrom('users').selectAll().where('is_admin', '=', true).orderBy('created_at', 'asc').orderBy('id', 'asc').executeTakeFirst();
  if (existing) return { created: false, user: userView(existing), team: await sessionTeam(ctx.db, existing) };

  const generated = opts.password === undefined ? randomBytes(12).toString('base64url') : undefined;
  const password = opts.password ?? generated!;
  assertPasswordStrength(password);
  const passwordHash = await hashPassword(password);
  const email = opts.email ?? DEFAULT_ADMIN_EMAIL;
  const { user, team, apiKey } = await ctx.db.transaction().execute(async (trx) => {
    const created = await createUserWithTeam(trx, { email, name: 'Admin', passwordHash, isAdmin: true, teamName: 'Admin team' }).catch((err: unknown) => {
      if (err instanceof WrennError && err.code === 'conflict') {
        throw new WrennError('conflict', `cannot create the administrator: a (non-admin) user with email ${email} already exists; choose another admin email`, { email });
      }
      throw err;
    });
    const key = await createApiKey(trx, created.team.id, created.user.id, 'wrenn up (admin)');
    return { ...created, apiKey: key.key };
  });
  ctx.logger.info({ userId: user.id, teamId: team.id, email: user.email }, 'created the first administrator');
  return { created: true, user: userView(user), team, apiKey, ...(generated ? { password: generated } : {}) };
}

/**
 * Accounts created by an administrator (there is no email delivery): the account starts
 * inactive with a one-time activation token (7 days) that the administrator hands over;
 * `POST /v1/auth/activate {token, password}` makes it active and logs the user in.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { hashPassword, newOpaqueToken, sha256Hex } from '../../infra/secrets.js';
import { issueSession, sessionTeam } from './common.js';
import { assertPasswordStrength, createUserWithTeam } from './users.js';
import { userView, type Session, type TeamView, type UserView } from './views.js';

export const ACTIVATION_TTL_MS = 7 * 24 * 3600 * 1000;

/** Stored as the password hash of an account that has no password yet: never verifies. */
const NO_PASSWORD = '!unset';

export interface CreatedUser {
  user: UserView;
  team: TeamView;
  activation_token: string;
  activation_expires_at: string;
}

export async function createInactiveUser(
  ctx: ControlPlaneContext,
  input: { email: string; name?: string | undefined; isAdmin?: boolean | undefined },
): Promise<CreatedUser> {
  const token = newOpaqueToken('wact_');
  const expiresAt = new Date(Date.now() + ACTIVATION_TTL_MS);
  const { user, team } = await ctx.db.transaction().execute(async (trx) => {
    const created = await createUserWithTeam(trx, { email: input.email, name: input.name, passwordHash: NO_PASSWORD, isAdmin: input.isAdmin ?? false, active: false });
    await trx
      .insertInto('user_tokens')
      .values({ id: `utok-${randomBytes(8).toString('hex')}`, user_id: created.user.id, kind: 'activation', token_hash: sha256Hex(token), expires_at: expiresAt })
      .execute();
    return created;
  });
  return { user: userView(user), team, activation_token: token, activation_expires_at: expiresAt.toISOString() };
}

export async function activate(ctx: ControlPlaneContext, input: { token: string; password: string }): Promise<Session> {
  assertPasswordStrength(input.password);
  const passwordHash = await hashPassword(input.password);
  const user = await ctx.db.transaction().execute(async (trx) => {
    // Marking the token used in the same statement that finds it: a token works once, even under concurrent calls.
    const claimed = await trx
      .updateTable('user_tokens')
      .set({ used_at: sql`now()` as never })
      .where('token_hash', '=', sha256Hex(input.token))
      .where('kind', '=', 'activation')
      .where('used_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .returning(['user_id'])
      .executeTakeFirst();
    if (!claimed) throw new WrennError('unauthenticated', 'unknown, used or expired activation token: ask an administrator for a new one');
    return trx.updateTable('users').set({ active: true, password_hash: passwordHash }).where('id', '=', claimed.user_id).returningAll().executeTakeFirstOrThrow();
  });
  return issueSession(ctx, user, await sessionTeam(ctx.db, user));
}

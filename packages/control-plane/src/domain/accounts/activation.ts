/**
 * Accounts created by an administrator: the account starts inactive with a one-time
 * activation token (7 days), mailed to the user as a link (WRENN_SMTP_*; without SMTP the
 * link is logged) and answered to the administrator, who may hand it over instead;
 * `POST /v1/auth/activate {token, password}` makes it active and logs the user in. An
 * administrator's password reset works the same way: the password and every session end,
 * and a new one-time token lets the user set a new password. Bad tokens are throttled per
 * client address (throttle.ts), as guessing them is the only way in without one.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { hashPassword, newOpaqueToken, sha256Hex } from '../../infra/secrets.js';
import { issueSession, sessionTeam, type Db } from './common.js';
import { activationMail } from './mail.js';
import { bumpSessionVersion, forgetCachedSessions } from './sessions.js';
import { clientAddressKey, throttled } from './throttle.js';
import { assertPasswordStrength, createUserWithTeam, type RequestMeta } from './users.js';
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
    await insertActivationToken(trx, created.user.id, token, expiresAt);
    return created;
  });
  ctx.mailer.sendLater(activationMail(ctx, user.email, token, expiresAt), ctx.logger.child({ userId: user.id }));
  return { user: userView(user), team, activation_token: token, activation_expires_at: expiresAt.toISOString() };
}

async function insertActivationToken(db: Db, userId: string, token: string, expiresAt: Date): Promise<void> {
  await db
    .insertInto('user_tokens')
    .values({ id: `utok-${randomBytes(8).toString('hex')}`, user_id: userId, kind: 'activation', token_hash: sha256Hex(token), expires_at: expiresAt })
    .execute();
}

export interface PasswordReset {
  user: UserView;
  activation_token: string;
  activation_expires_at: string;
}

/**
 * An administrator resets a user's password: the password stops working, every session of
 * the user ends, earlier unused tokens are void, and a new one-time token (7 days) lets the
 * user set a new password with POST /v1/auth/activate. For an account never activated
 * this is a fresh activation token. A disabled account is refused: using the token
 * activates the account, so it must be enabled on purpose first.
 */
export async function resetPassword(ctx: ControlPlaneContext, userId: string): Promise<PasswordReset> {
  const token = newOpaqueToken('wact_');
  const expiresAt = new Date(Date.now() + ACTIVATION_TTL_MS);
  const user = await ctx.db.transaction().execute(async (trx) => {
    const current = await trx.selectFrom('users').select(['id', 'active', 'password_hash']).where('id', '=', userId).forUpdate().executeTakeFirst();
    if (!current) throw new WrennError('not_found', `user ${userId} not found`, { userId });
    if (!current.active && current.password_hash !== NO_PASSWORD) {
      throw new WrennError('conflict', `user ${userId} is disabled: enable it first (PATCH /v1/admin/users/${userId} {"active": true}), then reset its password`, { userId });
    }
    await trx.deleteFrom('user_tokens').where('user_id', '=', userId).where('used_at', 'is', null).execute();
    await insertActivationToken(trx, userId, token, expiresAt);
    return (await bumpSessionVersion(trx, userId, { password_hash: NO_PASSWORD }))!;
  });
  forgetCachedSessions(ctx, userId);
  ctx.mailer.sendLater(activationMail(ctx, user.email, token, expiresAt), ctx.logger.child({ userId }));
  return { user: userView(user), activation_token: token, activation_expires_at: expiresAt.toISOString() };
}

/**
 * Activates an account with its one-time token. `password` sets the password (an account an
 * administrator created has none); without it, the account must already have one (Wrenn's
 * activation of a signed-up account sends only the token).
 */
export async function activate(ctx: ControlPlaneContext, input: { token: string; password?: string | undefined }, meta: RequestMeta = {}): Promise<Session> {
  if (input.password !== undefined) assertPasswordStrength(input.password);
  const locked = (_scope: string, retryAfterSec: number) =>
    new WrennError('too_many_attempts', `too many invalid activation tokens from your address: try again in ${retryAfterSec} s`, { retryAfterSec });
  // Without an address (a library caller) there is nothing to count against.
  if (!meta.ip) return claimActivation(ctx, input);
  return throttled(ctx, [{ scope: 'activate_ip', key: clientAddressKey(meta.ip) }], { locked }, () => claimActivation(ctx, input));
}

async function claimActivation(ctx: ControlPlaneContext, input: { token: string; password?: string | undefined }): Promise<Session> {
  const passwordHash = input.password === undefined ? undefined : await hashPassword(input.password);
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
    if (passwordHash === undefined) {
      const current = await trx.selectFrom('users').select(['password_hash']).where('id', '=', claimed.user_id).executeTakeFirstOrThrow();
      // Thrown inside the transaction: the token stays unused for a call with a password.
      if (current.password_hash === NO_PASSWORD) throw new WrennError('invalid_argument', 'this account has no password yet: send one with the token ({token, password})');
    }
    return trx
      .updateTable('users')
      .set({ active: true, ...(passwordHash ? { password_hash: passwordHash } : {}) })
      .where('id', '=', claimed.user_id)
      .returningAll()
      .executeTakeFirstOrThrow();
  });
  return issueSession(ctx, user, await sessionTeam(ctx.db, user));
}

/**
 * Password reset by email (POST /v1/me/password/reset and /confirm). Asking answers the
 * same, in the same time, whether or not an account has the email: the mail goes out in
 * the background. The token is random, stored only as its SHA-256, works once and for
 * 15 minutes; asking again voids the earlier one. Confirming sets the password and ends
 * every session of the user (their session version goes up), like a password change.
 * Bad tokens are throttled per client address, as activation tokens are.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { hashPassword, newOpaqueToken, sha256Hex } from '../../infra/secrets.js';
import { normalizeEmail } from './common.js';
import { passwordResetMail } from './mail.js';
import { bumpSessionVersion, forgetCachedSessions } from './sessions.js';
import { clientAddressKey, throttled } from './throttle.js';
import { assertPasswordStrength, type RequestMeta } from './users.js';

export const PASSWORD_RESET_TTL_MS = 15 * 60 * 1000;

export async function requestPasswordReset(ctx: ControlPlaneContext, email: string, meta: RequestMeta = {}): Promise<void> {
  const log = ctx.logger.child({ requestId: meta.requestId });
  // Only an active account with a password can reset it: an invited or not yet activated
  // account gets in with its activation token, a disabled one must be enabled on purpose.
  const user = await ctx.db.selectFrom('users').select(['id', 'email']).where('email', '=', normalizeEmail(email)).where('active', '=', true).where('password_hash', 'like', '$argon2%').executeTakeFirst();
  if (!user) {
    log.info('password reset asked for an email with no active account: nothing sent');
    return;
  }
  const token = newOpaqueToken('wrst_');
  await ctx.db.transaction().execute(async (trx) => {
    await trx.deleteFrom('user_tokens').where('user_id', '=', user.id).where('kind', '=', 'password_reset').where('used_at', 'is', null).execute();
    await trx
      .insertInto('user_tokens')
      .values({ id: `utok-${randomBytes(8).toString('hex')}`, user_id: user.id, kind: 'password_reset', token_hash: sha256Hex(token), expires_at: new Date(Date.now() + PASSWORD_RESET_TTL_MS) })
      .execute();
  });
  ctx.mailer.sendLater(passwordResetMail(ctx, user.email, token, PASSWORD_RESET_TTL_MS / 60_000), log.child({ userId: user.id }));
}

export async function confirmPasswordReset(ctx: ControlPlaneContext, input: { token: string; newPassword: string }, meta: RequestMeta = {}): Promise<void> {
  assertPasswordStrength(input.newPassword);
  const locked = (_scope: string, retryAfterSec: number) =>
    new WrennError('too_many_attempts', `too many invalid reset tokens from your address: try again in ${retryAfterSec} s`, { retryAfterSec });
  const isFailure = (err: unknown) => err instanceof WrennError && err.code === 'invalid_argument' && err.details?.badToken === true;
  if (!meta.ip) return claimReset(ctx, input);
  return throttled(ctx, [{ scope: 'activate_ip', key: clientAddressKey(meta.ip) }], { locked, isFailure }, () => claimReset(ctx, input));
}

async function claimReset(ctx: ControlPlaneContext, input: { token: string; newPassword: string }): Promise<void> {
  const passwordHash = await hashPassword(input.newPassword);
  const userId = await ctx.db.transaction().execute(async (trx) => {
    // Marking the token used in the statement that finds it: it works once, even under concurrent calls.
    const claimed = await trx
      .updateTable('user_tokens')
      .set({ used_at: sql`now()` as never })
      .where('token_hash', '=', sha256Hex(input.token))
      .where('kind', '=', 'password_reset')
      .where('used_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .returning(['user_id'])
      .executeTakeFirst();
    if (!claimed) throw new WrennError('invalid_argument', 'unknown, used or expired reset token: ask for a new one (POST /v1/me/password/reset)', { badToken: true });
    const user = await trx.selectFrom('users').select(['active']).where('id', '=', claimed.user_id).forUpdate().executeTakeFirst();
    if (!user?.active) throw new WrennError('invalid_argument', 'this account is disabled: ask an administrator', { badToken: true });
    await bumpSessionVersion(trx, claimed.user_id, { password_hash: passwordHash });
    return claimed.user_id;
  });
  forgetCachedSessions(ctx, userId);
  ctx.logger.info({ userId }, 'password reset by email: every session of the user ended');
}

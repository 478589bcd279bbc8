/**
 * OAuth/OIDC login and provider linking. An attempt starts with a random state, nonce, PKCE
 * verifier and browser secret; the database keeps the state's hash with the browser
 * secret's hash (the secret itself rides in an HttpOnly cookie, binding the attempt to the
 * browser that started it), the verifier, the nonce, the user a link is for, and an expiry
 * (10 minutes). The callback deletes the row as it reads it: a state works once, on any
 * replica, and only in the browser that holds its cookie.
 *
 * Login finds the user by the provider identity; else by the provider's verified email
 * (and links the identity to that account); else creates an account (when WRENN_SIGNUP
 * allows). Linking attaches the identity to the signed-in user. A user keeps at least one
 * way to sign in: the last provider of an account without a password cannot be unlinked.
 */
import { randomBytes, timingSafeEqual } from 'node:crypto';
import * as client from 'openid-client';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { User } from '../../db/schema.js';
import { sha256Hex } from '../../infra/secrets.js';
import type { OAuthAttempt, OAuthIdentity, OAuthProvider } from '../../infra/oauth/provider.js';
import { recordAuditLater } from '../audit.js';
import { isUniqueViolation, issueSession, normalizeEmail, sessionTeam } from './common.js';
import { createUserWithTeam } from './users.js';
import type { Session } from './views.js';

export const OAUTH_STATE_TTL_MS = 10 * 60 * 1000;

/** The password hash of an account made by an OAuth login: no password until the user sets one. */
export const OAUTH_ONLY = '!oauth';

/**
 * Why a callback failed: the `error` the browser is sent back with. The first six are the
 * contract's; the others say what the user can do.
 */
export type OAuthFailure =
  | 'access_denied'
  | 'invalid_state'
  | 'missing_code'
  | 'exchange_failed'
  | 'email_taken'
  | 'internal_error'
  | 'email_unverified'
  | 'account_inactive'
  | 'signup_disabled'
  | 'already_linked';

export class OAuthCallbackError extends Error {
  constructor(
    readonly failure: OAuthFailure,
    message: string,
    /** Set when the attempt was a link (the settings page gets the result). */
    readonly link = false,
  ) {
    super(message);
  }
}

export function providerOf(ctx: ControlPlaneContext, name: string): OAuthProvider {
  const p = ctx.oauth.get(name);
  if (!p) throw new WrennError('not_found', `login provider ${name} is not configured on this server (configured: ${[...ctx.oauth.keys()].join(', ') || 'none'})`, { provider: name });
  return p;
}

export function callbackUrl(ctx: ControlPlaneContext, provider: string): string {
  return `${ctx.config.publicUrl}/v1/auth/oauth/${provider}/callback`;
}

/** Starts a login (no user) or a link (the signed-in user): the provider's URL, and the secret for the browser's cookie. */
export async function startOAuth(ctx: ControlPlaneContext, name: string, linkUserId?: string): Promise<{ authUrl: URL; browserSecret: string }> {
  const provider = providerOf(ctx, name);
  const attempt: OAuthAttempt = { state: client.randomState(), nonce: client.randomNonce(), codeVerifier: client.randomPKCECodeVerifier(), redirectUri: callbackUrl(ctx, name) };
  const browserSecret = randomBytes(32).toString('base64url');
  const authUrl = await provider.authorizationUrl(attempt);
  await ctx.db.deleteFrom('oauth_states').where('expires_at', '<', new Date()).execute();
  await ctx.db
    .insertInto('oauth_states')
    .values({
      state_hash: sha256Hex(attempt.state),
      browser_hash: sha256Hex(browserSecret),
      provider: name,
      code_verifier: attempt.codeVerifier,
      nonce: attempt.nonce,
      link_user_id: linkUserId ?? null,
      expires_at: new Date(Date.now() + OAUTH_STATE_TTL_MS),
    })
    .execute();
  return { authUrl, browserSecret };
}

export type OAuthResult = { kind: 'login'; session: Session } | { kind: 'linked'; userId: string };

/** Finishes the attempt named by the callback's `state`; throws OAuthCallbackError with the reason. */
export async function finishOAuth(ctx: ControlPlaneContext, name: string, url: URL, browserSecret: string | undefined): Promise<OAuthResult> {
  const provider = providerOf(ctx, name);
  const state = url.searchParams.get('state');
  if (!state) throw new OAuthCallbackError('invalid_state', 'the callback has no state');
  // Deleted as it is read: a replayed callback finds nothing.
  const row = await ctx.db.deleteFrom('oauth_states').where('state_hash', '=', sha256Hex(state)).returningAll().executeTakeFirst();
  if (!row || row.provider !== name) throw new OAuthCallbackError('invalid_state', 'unknown or already used state');
  const link = row.link_user_id !== null;
  const sameBrowser = browserSecret !== undefined && timingSafeEqual(Buffer.from(sha256Hex(browserSecret)), Buffer.from(row.browser_hash));
  if (!sameBrowser) throw new OAuthCallbackError('invalid_state', 'the callback came to a browser that did not start this attempt', link);
  if (row.expires_at.getTime() < Date.now()) throw new OAuthCallbackError('invalid_state', 'the attempt expired', link);
  if (url.searchParams.get('error')) throw new OAuthCallbackError('access_denied', `the provider answered ${url.searchParams.get('error')}`, link);
  if (!url.searchParams.get('code')) throw new OAuthCallbackError('missing_code', 'the callback has no code', link);

  // The provider must see the callback URL it redirected to, whatever path alias served it.
  const current = new URL(callbackUrl(ctx, name));
  current.search = url.search;
  let identity: OAuthIdentity;
  try {
    identity = await provider.identity(current, { state, nonce: row.nonce, codeVerifier: row.code_verifier, redirectUri: callbackUrl(ctx, name) });
  } catch (err) {
    ctx.logger.warn({ err, provider: name }, 'OAuth code exchange failed');
    throw new OAuthCallbackError('exchange_failed', 'the provider did not confirm the login', link);
  }
  if (row.link_user_id !== null) return linkIdentity(ctx, name, identity, row.link_user_id);
  return { kind: 'login', session: await loginWithIdentity(ctx, name, identity) };
}

async function linkIdentity(ctx: ControlPlaneContext, provider: string, identity: OAuthIdentity, userId: string): Promise<OAuthResult> {
  const existing = await ctx.db.selectFrom('oauth_identities').select(['user_id']).where('provider', '=', provider).where('subject', '=', identity.subject).executeTakeFirst();
  if (existing && existing.user_id !== userId) throw new OAuthCallbackError('already_linked', `this ${provider} account is linked to another user`, true);
  if (!existing) {
    try {
      await ctx.db.insertInto('oauth_identities').values({ provider, subject: identity.subject, user_id: userId, email: normalizeEmail(identity.email) }).execute();
    } catch (err) {
      if (isUniqueViolation(err)) throw new OAuthCallbackError('already_linked', `you already have another ${provider} account linked: unlink it first`, true);
      throw err;
    }
  }
  recordAuditLater(ctx, { teamId: null, actorUserId: userId, action: 'oauth_link', targetType: 'user', targetId: userId, result: 'ok', statusCode: 302, detail: { provider }, requestId: null });
  return { kind: 'linked', userId };
}

async function loginWithIdentity(ctx: ControlPlaneContext, provider: string, identity: OAuthIdentity): Promise<Session> {
  const linked = await ctx.db
    .selectFrom('oauth_identities')
    .innerJoin('users', 'users.id', 'oauth_identities.user_id')
    .selectAll('users')
    .where('oauth_identities.provider', '=', provider)
    .where('oauth_identities.subject', '=', identity.subject)
    .executeTakeFirst();
  const user = linked ?? (await userByVerifiedEmail(ctx, provider, identity));
  if (!user.active) throw new OAuthCallbackError('account_inactive', 'this account is disabled or not activated yet: ask an administrator');
  const team = await sessionTeam(ctx.db, user);
  recordAuditLater(ctx, { teamId: team.id, actorUserId: user.id, action: 'login', targetType: 'user', targetId: user.id, result: 'ok', statusCode: 302, detail: { provider }, requestId: null });
  return issueSession(ctx, user, team);
}

/** An identity seen for the first time: the account with its verified email (now linked), or a new one. */
async function userByVerifiedEmail(ctx: ControlPlaneContext, provider: string, identity: OAuthIdentity): Promise<User> {
  if (!identity.emailVerified || !identity.email) throw new OAuthCallbackError('email_unverified', `${provider} does not vouch for an email address of this account: verify one there first`);
  const email = normalizeEmail(identity.email);
  return ctx.db.transaction().execute(async (trx) => {
    let user = await trx.selectFrom('users').selectAll().where('email', '=', email).forUpdate().executeTakeFirst();
    if (user && !user.active) throw new OAuthCallbackError('email_taken', `an account with ${email} exists but is not active: activate it, or ask an administrator`);
    if (!user) {
      if (!ctx.config.signupEnabled) throw new OAuthCallbackError('signup_disabled', 'signup is disabled on this server (WRENN_SIGNUP=false): ask an administrator for an account');
      user = (await createUserWithTeam(trx, { email, name: identity.name || undefined, passwordHash: OAUTH_ONLY })).user;
    }
    const taken = await trx.selectFrom('oauth_identities').select(['subject']).where('user_id', '=', user.id).where('provider', '=', provider).executeTakeFirst();
    if (taken) throw new OAuthCallbackError('email_taken', `the account with ${email} is linked to another ${provider} account`);
    await trx.insertInto('oauth_identities').values({ provider, subject: identity.subject, user_id: user.id, email }).execute();
    return user;
  });
}

/** Unlinks a provider; refused when it is the account's last way to sign in. */
export async function unlinkProvider(ctx: ControlPlaneContext, userId: string, provider: string): Promise<void> {
  await ctx.db.transaction().execute(async (trx) => {
    const user = await trx.selectFrom('users').select(['password_hash']).where('id', '=', userId).forUpdate().executeTakeFirst();
    if (!user) throw new WrennError('unauthenticated', 'this user no longer exists');
    const mine = await trx.selectFrom('oauth_identities').select(['provider']).where('user_id', '=', userId).execute();
    if (!mine.some((r) => r.provider === provider)) throw new WrennError('not_found', `${provider} is not linked to your account`, { provider });
    if (!user.password_hash.startsWith('$argon2') && mine.length === 1) {
      throw new WrennError('invalid_argument', `${provider} is your only way to sign in: set a password (POST /v1/me/password) or link another provider first`, { provider });
    }
    await trx.deleteFrom('oauth_identities').where('user_id', '=', userId).where('provider', '=', provider).execute();
  });
}

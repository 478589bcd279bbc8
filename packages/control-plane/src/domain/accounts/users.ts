/**
 * Users: signup, login, the caller's own account (read, rename, change email or password,
 * delete). Wrong email and wrong password fail the same way, in about the same time, and
 * every failed login is audited. Repeated failures for an email or from an address lock
 * them for a while (throttle.ts); changing the password ends every other session.
 */
import { WrennError, isWrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { User } from '../../db/schema.js';
import { hashPassword, verifyPassword } from '../../infra/secrets.js';
import { recordAuditLater } from '../audit.js';
import { newId } from '../ids.js';
import { MEMBER_INVITE, createTeamWithOwner, isUniqueViolation, issueSession, liveCapsuleCount, normalizeEmail, personalTeamName, sessionTeam, type Db } from './common.js';
import { revokeKeysOf } from './keys.js';
import { bumpSessionVersion, forgetCachedSessions, memberTeam } from './sessions.js';
import { clientAddressKey, throttled, type ThrottleKey, type ThrottleScope } from './throttle.js';
import { teamView, userView, type Session, type TeamView, type UserView } from './views.js';

export const MIN_PASSWORD_LENGTH = 8;

export interface RequestMeta {
  requestId?: string | undefined;
  /** The client's address (request.ip: the peer, or the client behind a trusted proxy). */
  ip?: string | undefined;
}

function emailTaken(email: string): WrennError {
  return new WrennError('conflict', `a user with email ${email} already exists: log in instead, or use another email`, { email });
}

export function assertPasswordStrength(password: string): void {
  if (password.length < MIN_PASSWORD_LENGTH) throw new WrennError('invalid_argument', `the password must have at least ${MIN_PASSWORD_LENGTH} characters`);
}

/** Inserts a user and their personal team (they are its owner), in the caller's transaction. */
export async function createUserWithTeam(
  db: Db,
  input: { email: string; name?: string | undefined; passwordHash: string; isAdmin?: boolean; active?: boolean; teamName?: string },
): Promise<{ user: User; team: TeamView }> {
  const email = normalizeEmail(input.email);
  const existing = await db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst();
  if (existing) throw emailTaken(email);
  const name = input.name?.trim() || email.split('@')[0]!;
  const teamRow = await db
    .insertInto('teams')
    .values({ id: newId('team'), name: input.teamName ?? personalTeamName({ name, email }) })
    .returningAll()
    .executeTakeFirstOrThrow();
  try {
    const user = await db
      .insertInto('users')
      .values({ id: newId('usr'), email, name, password_hash: input.passwordHash, is_admin: input.isAdmin ?? false, active: input.active ?? true, default_team_id: teamRow.id })
      .returningAll()
      .executeTakeFirstOrThrow();
    await db.insertInto('memberships').values({ team_id: teamRow.id, user_id: user.id, role: 'owner' }).execute();
    return { user, team: teamView(teamRow, 'owner') };
  } catch (err) {
    if (isUniqueViolation(err)) throw emailTaken(email);
    throw err;
  }
}

/** Signing up with an email a team invited: the invited account becomes this user's, with a personal team. */
async function claimInvite(trx: Db, input: { email: string; name?: string | undefined }, passwordHash: string): Promise<{ user: User; team: TeamView } | undefined> {
  const email = normalizeEmail(input.email);
  const invited = await trx.selectFrom('users').select('id').where('email', '=', email).where('password_hash', '=', MEMBER_INVITE).where('active', '=', false).forUpdate().executeTakeFirst();
  if (!invited) return undefined;
  const name = input.name?.trim() || email.split('@')[0]!;
  const team = await createTeamWithOwner(trx, invited.id, personalTeamName({ name, email }));
  const user = await trx
    .updateTable('users')
    .set({ name, password_hash: passwordHash, active: true, default_team_id: team.id })
    .where('id', '=', invited.id)
    .returningAll()
    .executeTakeFirstOrThrow();
  return { user, team };
}

export async function signup(ctx: ControlPlaneContext, input: { email: string; password: string; name?: string | undefined }, meta: RequestMeta = {}): Promise<Session> {
  if (!ctx.config.signupEnabled) throw new WrennError('permission_denied', 'signup is disabled on this server (WRENN_SIGNUP=false): ask an administrator for an account');
  assertPasswordStrength(input.password);
  const passwordHash = await hashPassword(input.password);
  const { user, team } = await ctx.db.transaction().execute(async (trx) => (await claimInvite(trx, input, passwordHash)) ?? createUserWithTeam(trx, { email: input.email, name: input.name, passwordHash }));
  recordAuditLater(ctx, { teamId: team.id, actorUserId: user.id, action: 'signup', targetType: 'user', targetId: user.id, result: 'ok', statusCode: 201, requestId: meta.requestId ?? null });
  return issueSession(ctx, user, team);
}

// Verifying against a throwaway hash when the email is unknown, or the account has no
// password yet (invited, or reset by an administrator), keeps every failure equally slow.
let dummyHash: Promise<string> | undefined;

function loginLocked(scope: ThrottleScope, retryAfterSec: number): WrennError {
  // Unknown emails lock exactly like known ones, so this says nothing about whether one exists.
  const what = scope === 'login_email' ? 'for this email' : 'from your address';
  return new WrennError('too_many_attempts', `too many failed logins ${what}: try again in ${retryAfterSec} s`, { retryAfterSec });
}

function passwordLocked(_scope: ThrottleScope, retryAfterSec: number): WrennError {
  return new WrennError('too_many_attempts', `too many wrong current passwords: try again in ${retryAfterSec} s`, { retryAfterSec });
}

export async function login(ctx: ControlPlaneContext, input: { email: string; password: string }, meta: RequestMeta = {}): Promise<Session> {
  const email = normalizeEmail(input.email);
  const byEmail: ThrottleKey = { scope: 'login_email', key: email };
  const byAddress: ThrottleKey = { scope: 'login_ip', key: clientAddressKey(meta.ip ?? ''), max: ctx.config.loginMaxFailuresPerAddress, soft: true };
  const keys: ThrottleKey[] = meta.ip ? [byEmail, byAddress] : [byEmail];
  // A good login clears its email's failures, not its address's: an attacker who owns one
  // account must not be able to reset the counter of the address they guess others' from.
  // Refusals while locked are not audited (the failures that caused the lock are): they
  // cost an attacker nothing, and one row each would let them fill the log.
  return throttled(ctx, keys, { resetOnSuccess: [byEmail], locked: loginLocked }, () => checkLogin(ctx, email, input.password, meta));
}

async function checkLogin(ctx: ControlPlaneContext, email: string, password: string, meta: RequestMeta): Promise<Session> {
  const user = await ctx.db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
  const hasPassword = user?.password_hash.startsWith('$argon2') ?? false;
  const ok = (await verifyPassword(hasPassword ? user!.password_hash : await (dummyHash ??= hashPassword('wrenn-dummy-password')), password)) && hasPassword;
  const fail = (reason: string, message: string): WrennError => {
    recordAuditLater(ctx, {
      teamId: user?.default_team_id ?? null,
      action: 'login',
      targetType: user ? 'user' : null,
      targetId: user?.id ?? null,
      result: 'error',
      statusCode: 401,
      detail: { email, reason },
      requestId: meta.requestId ?? null,
    });
    return new WrennError('unauthenticated', message);
  };
  if (!user || !ok) throw fail(user ? 'wrong_password' : 'unknown_email', 'wrong email or password');
  if (!user.active) throw fail('inactive', 'this account is disabled or not activated yet: ask an administrator');
  const team = await sessionTeam(ctx.db, user);
  recordAuditLater(ctx, { teamId: team.id, actorUserId: user.id, action: 'login', targetType: 'user', targetId: user.id, result: 'ok', statusCode: 200, requestId: meta.requestId ?? null });
  return issueSession(ctx, user, team);
}

async function getUser(db: Db, userId: string): Promise<User> {
  const user = await db.selectFrom('users').selectAll().where('id', '=', userId).executeTakeFirst();
  if (!user) throw new WrennError('unauthenticated', 'this user no longer exists');
  return user;
}

export interface MeView {
  name: string;
  email: string;
  has_password: boolean;
  /** Linked login providers (github, OIDC issuers' names). */
  providers: string[];
  user: UserView;
  team: TeamView;
}

/** The caller and the team their token acts for (Wrenn's MeResponse fields first). */
export async function getMe(ctx: ControlPlaneContext, userId: string, teamId: string): Promise<MeView> {
  const user = await getUser(ctx.db, userId);
  const team = await memberTeam(ctx.db, userId, teamId);
  if (!team) throw new WrennError('unauthenticated', `you are no longer a member of team ${teamId}: log in again`);
  const providers = (await ctx.db.selectFrom('oauth_identities').select(['provider']).where('user_id', '=', userId).orderBy('provider').execute()).map((r) => r.provider);
  return { name: user.name, email: user.email, has_password: user.password_hash.startsWith('$argon2'), providers, user: userView(user), team };
}

/** A fresh session for the caller's current team (after a change that shows in the token, e.g. the name). */
export async function reissueSession(ctx: ControlPlaneContext, userId: string, teamId: string): Promise<Session> {
  const user = await getUser(ctx.db, userId);
  return issueSession(ctx, user, (await memberTeam(ctx.db, userId, teamId)) ?? (await sessionTeam(ctx.db, user)));
}

export async function updateMe(ctx: ControlPlaneContext, userId: string, patch: { name?: string | undefined; email?: string | undefined }): Promise<UserView> {
  const set: { name?: string; email?: string } = {};
  if (patch.name !== undefined) set.name = patch.name.trim();
  if (patch.email !== undefined) set.email = normalizeEmail(patch.email);
  if (set.name === '') throw new WrennError('invalid_argument', 'the name cannot be empty');
  if (Object.keys(set).length === 0) return userView(await getUser(ctx.db, userId));
  try {
    const user = await ctx.db.updateTable('users').set(set).where('id', '=', userId).returningAll().executeTakeFirst();
    if (!user) throw new WrennError('unauthenticated', 'this user no longer exists');
    return userView(user);
  } catch (err) {
    if (isUniqueViolation(err)) throw emailTaken(set.email!);
    throw err;
  }
}

/**
 * Changes the caller's password and ends every session of theirs (all JWTs issued until
 * now, on every team and device); the caller stays logged in with the returned token, for
 * the team their old token acted for.
 */
export async function changePassword(
  ctx: ControlPlaneContext,
  caller: { userId: string; teamId: string },
  input: { currentPassword?: string | undefined; newPassword: string },
): Promise<Session> {
  const user = await getUser(ctx.db, caller.userId);
  const currentPassword = input.currentPassword;
  if (currentPassword === undefined) return addPassword(ctx, caller, user, input.newPassword);
  // Throttled per user like a login (migration 006): a stolen session must not become a
  // way to guess the password.
  const byUser: ThrottleKey = { scope: 'password_user', key: caller.userId };
  await throttled(ctx, [byUser], { resetOnSuccess: [byUser], locked: passwordLocked, isFailure: (err) => isWrennError(err) && err.code === 'permission_denied' }, async () => {
    if (!(await verifyPassword(user.password_hash, currentPassword))) {
      throw new WrennError('permission_denied', 'the current password is wrong: the password was not changed');
    }
  });
  assertPasswordStrength(input.newPassword);
  const updated = await bumpSessionVersion(ctx.db, caller.userId, { password_hash: await hashPassword(input.newPassword) });
  forgetCachedSessions(ctx, caller.userId);
  if (!updated) throw new WrennError('unauthenticated', 'this user no longer exists');
  return issueSession(ctx, updated, (await memberTeam(ctx.db, updated.id, caller.teamId)) ?? (await sessionTeam(ctx.db, updated)));
}

/**
 * An account that signs in only through a provider (OAuth) sets its first password; one that
 * has a password must give it (changePassword). Like a change, it ends every other session.
 */
async function addPassword(ctx: ControlPlaneContext, caller: { userId: string; teamId: string }, user: User, newPassword: string): Promise<Session> {
  if (user.password_hash.startsWith('$argon2')) throw new WrennError('invalid_argument', 'current_password is required to change an existing password: the password was not changed');
  assertPasswordStrength(newPassword);
  const hash = await hashPassword(newPassword);
  // Only while there is still no password: two concurrent "add" calls cannot both set one.
  const updated = await ctx.db
    .updateTable('users')
    .set((eb) => ({ password_hash: hash, session_version: eb('session_version', '+', 1) }))
    .where('id', '=', caller.userId)
    .where('password_hash', 'not like', '$argon2%')
    .returningAll()
    .executeTakeFirst();
  forgetCachedSessions(ctx, caller.userId);
  if (!updated) throw new WrennError('conflict', 'a password was set meanwhile: give it as current_password to change it');
  return issueSession(ctx, updated, (await memberTeam(ctx.db, updated.id, caller.teamId)) ?? (await sessionTeam(ctx.db, updated)));
}

/**
 * Deletes the caller's account. Teams where they are the only member go with it (refused
 * while such a team still has capsules); a team that would be left with members but no
 * owner makes the whole deletion refuse, naming the team.
 */
export async function deleteMe(ctx: ControlPlaneContext, userId: string, confirmation?: string): Promise<void> {
  if (confirmation !== undefined) {
    const user = await getUser(ctx.db, userId);
    if (normalizeEmail(confirmation) !== normalizeEmail(user.email)) throw new WrennError('invalid_argument', 'confirmation does not match your email address: the account was not deleted');
  }
  await ctx.db.transaction().execute(async (trx) => {
    const mine = await trx.selectFrom('memberships').select(['team_id', 'role']).where('user_id', '=', userId).execute();
    const soleTeams: string[] = [];
    for (const m of mine) {
      const others = await trx
        .selectFrom('memberships')
        .select(['role'])
        .where('team_id', '=', m.team_id)
        .where('user_id', '!=', userId)
        .forUpdate()
        .execute();
      if (others.length === 0) {
        const live = await liveCapsuleCount(trx, m.team_id);
        if (live > 0) throw new WrennError('conflict', `team ${m.team_id} (yours alone) still has ${live} capsule(s) that are not stopped: delete them first`, { teamId: m.team_id });
        soleTeams.push(m.team_id);
      } else if (m.role === 'owner' && !others.some((o) => o.role === 'owner')) {
        throw new WrennError(
          'conflict',
          `you are the last owner of team ${m.team_id}, which has other members: make one of them owner (PATCH /v1/teams/${m.team_id}/members/{user_id}) or remove them first`,
          { teamId: m.team_id },
        );
      }
    }
    await revokeKeysOf(trx, userId, undefined, 'user_deleted');
    await trx.deleteFrom('users').where('id', '=', userId).execute();
    if (soleTeams.length > 0) await trx.deleteFrom('teams').where('id', 'in', soleTeams).execute();
  });
  ctx.principals.clear(); // the account's cached sessions (and its sole teams' keys) end now
}

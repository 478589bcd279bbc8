import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { ensureAdmin, DEFAULT_ADMIN_EMAIL } from '../src/domain/accounts/index.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

const uniqueEmail = (tag: string): string => `${tag}-${randomBytes(4).toString('hex')}@example.test`;

function jwtPayload(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

describe('accounts: signup, login, me, activation, admin bootstrap', () => {
  let t: TestControlPlane;
  let admin: SeededTeam;

  const signup = async (email = uniqueEmail('u'), password = 'correct horse', name?: string) => {
    const r = await t.api('POST', '/v1/auth/signup', { body: { email, password, ...(name ? { name } : {}) } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return { ...r.body, email, password } as { token: string; user: { id: string; email: string; name: string }; team: { id: string; role: string }; email: string; password: string };
  };

  before(async () => {
    t = await startControlPlane();
    admin = await seedTeam(t.cp, { isAdmin: true });
  });
  after(async () => {
    await t?.close();
  });

  test('signup creates the user and a personal team they own, and returns a working token', async () => {
    const email = uniqueEmail('Mixed.Case');
    const r = await t.api('POST', '/v1/auth/signup', { body: { email, password: 'password1', name: 'Ada' } });
    assert.equal(r.status, 201);
    assert.match(r.body.user.id, /^usr-/);
    assert.equal(r.body.user.email, email.toLowerCase());
    assert.equal(r.body.user.name, 'Ada');
    assert.equal(r.body.user.is_admin, false);
    assert.match(r.body.team.id, /^team-/);
    assert.equal(r.body.team.role, 'owner');
    assert.match(r.body.user.created_at, /Z$/);
    const me = await t.api('GET', '/v1/me', { auth: r.body.token });
    assert.equal(me.status, 200);
    assert.equal(me.body.user.id, r.body.user.id);
    assert.equal(me.body.team.id, r.body.team.id);
  });

  test('signup with an email already taken (any case) → 409 conflict', async () => {
    const first = await signup(uniqueEmail('dup'));
    const r = await t.api('POST', '/v1/auth/signup', { body: { email: first.email.toUpperCase(), password: 'password2' } });
    assert.equal(r.status, 409);
    assert.equal(r.body.error.reason, 'conflict');
    assert.match(r.body.error.message, /already exists/);
  });

  test('signup refuses a short password, a bad email and unknown fields with 400', async () => {
    const cases = [
      { email: uniqueEmail('short'), password: 'seven77' },
      { email: 'not-an-email', password: 'password1' },
      { email: uniqueEmail('extra'), password: 'password1', is_admin: true },
      { password: 'password1' },
    ];
    for (const body of cases) {
      const r = await t.api('POST', '/v1/auth/signup', { body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.reason, 'invalid_argument');
      assert.equal(r.body.error.code, 'invalid_request');
    }
  });

  test('login returns a 6 h JWT for the default team with the user and team', async () => {
    const u = await signup();
    const r = await t.api('POST', '/v1/auth/login', { body: { email: u.email.toUpperCase(), password: u.password } });
    assert.equal(r.status, 200);
    assert.equal(r.body.user.id, u.user.id);
    assert.equal(r.body.team.id, u.team.id);
    const claims = jwtPayload(r.body.token);
    assert.equal(claims.user, u.user.id);
    assert.equal(claims.team, u.team.id);
    assert.equal(claims.role, 'owner');
    assert.equal(claims.is_admin, false);
    assert.equal(Number(claims.exp) - Number(claims.iat), 6 * 3600);
  });

  test('login with a wrong password or an unknown email → 401 with the same message', async () => {
    const u = await signup();
    const wrong = await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: 'not the password' } });
    const unknown = await t.api('POST', '/v1/auth/login', { body: { email: uniqueEmail('nobody'), password: 'whatever1' } });
    assert.equal(wrong.status, 401);
    assert.equal(unknown.status, 401);
    assert.deepEqual(wrong.body, unknown.body);
  });

  test('login of a disabled user → 401, and works again once re-enabled', async () => {
    const u = await signup();
    assert.equal((await t.api('PATCH', `/v1/admin/users/${u.user.id}`, { auth: admin.jwt, body: { active: false } })).status, 200);
    const r = await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /disabled/);
    assert.equal((await t.api('PATCH', `/v1/admin/users/${u.user.id}`, { auth: admin.jwt, body: { active: true } })).status, 200);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } })).status, 200);
  });

  test('PATCH /me changes name and email; an email in use → 409; an empty body → 400', async () => {
    const u = await signup();
    const other = await signup();
    const newEmail = uniqueEmail('renamed');
    const r = await t.api('PATCH', '/v1/me', { auth: u.token, body: { name: 'New Name', email: newEmail } });
    assert.equal(r.status, 200);
    assert.equal(r.body.name, 'New Name');
    assert.equal(r.body.email, newEmail);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: newEmail, password: u.password } })).status, 200);
    const taken = await t.api('PATCH', '/v1/me', { auth: u.token, body: { email: other.email } });
    assert.equal(taken.status, 409);
    assert.equal((await t.api('PATCH', '/v1/me', { auth: u.token, body: {} })).status, 400);
  });

  test('POST /me/password needs the current password; the old one stops working', async () => {
    const u = await signup();
    const bad = await t.api('POST', '/v1/me/password', { auth: u.token, body: { current_password: 'wrong-password', new_password: 'brand new pw' } });
    assert.equal(bad.status, 403);
    assert.match(bad.body.error.message, /current password is wrong/);
    assert.equal((await t.api('POST', '/v1/me/password', { auth: u.token, body: { current_password: u.password, new_password: 'short' } })).status, 400);
    const ok = await t.api('POST', '/v1/me/password', { auth: u.token, body: { current_password: u.password, new_password: 'brand new pw' } });
    assert.equal(ok.status, 200);
    assert.equal(ok.body.user.id, u.user.id);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } })).status, 401);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: 'brand new pw' } })).status, 200);
  });

  test('switch-team gives a token for another team of mine; a team I am not in → 404', async () => {
    const u = await signup();
    const created = await t.api('POST', '/v1/teams', { auth: u.token, body: { name: 'second' } });
    assert.equal(created.status, 201);
    const r = await t.api('POST', '/v1/auth/switch-team', { auth: u.token, body: { team_id: created.body.id } });
    assert.equal(r.status, 200);
    assert.equal(r.body.team.id, created.body.id);
    assert.equal(jwtPayload(r.body.token).team, created.body.id);
    const me = await t.api('GET', '/v1/me', { auth: r.body.token });
    assert.equal(me.body.team.id, created.body.id);
    const foreign = await t.api('POST', '/v1/auth/switch-team', { auth: u.token, body: { team_id: admin.teamId } });
    assert.equal(foreign.status, 404);
    assert.equal(foreign.body.error.reason, 'not_found');
  });

  test('DELETE /me is refused while I am the last owner of a team with other members', async () => {
    const owner = await signup();
    const member = await signup();
    assert.equal((await t.api('POST', `/v1/teams/${owner.team.id}/members`, { auth: owner.token, body: { email: member.email } })).status, 201);
    const r = await t.api('DELETE', '/v1/me', { auth: owner.token });
    assert.equal(r.status, 409);
    assert.match(r.body.error.message, new RegExp(`last owner of team ${owner.team.id}`));
    // Once the member is owner too, the account can go; the shared team stays.
    assert.equal((await t.api('PATCH', `/v1/teams/${owner.team.id}/members/${member.user.id}`, { auth: owner.token, body: { role: 'owner' } })).status, 200);
    assert.equal((await t.api('DELETE', '/v1/me', { auth: owner.token })).status, 204);
    const team = await t.api('GET', `/v1/teams/${owner.team.id}`, { auth: member.token });
    assert.equal(team.status, 200);
    assert.equal(team.body.member_count, 1);
  });

  test('DELETE /me removes the account and the teams where I was alone', async () => {
    const u = await signup();
    assert.equal((await t.api('DELETE', '/v1/me', { auth: u.token })).status, 204);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } })).status, 401);
    assert.equal((await t.api('GET', '/v1/me', { auth: u.token })).status, 401);
    const team = await t.cp.ctx.db.selectFrom('teams').select('id').where('id', '=', u.team.id).executeTakeFirst();
    assert.equal(team, undefined);
  });

  test('an administrator creates an inactive user; the one-time token activates it once', async () => {
    const email = uniqueEmail('invited');
    const created = await t.api('POST', '/v1/admin/users', { auth: admin.jwt, body: { email, name: 'Invited' } });
    assert.equal(created.status, 201);
    assert.equal(created.body.user.active, false);
    assert.match(created.body.activation_token, /^wact_/);
    const stored = await t.cp.ctx.db.selectFrom('user_tokens').selectAll().where('user_id', '=', created.body.user.id).execute();
    assert.equal(stored.length, 1);
    assert.notEqual(stored[0]!.token_hash, created.body.activation_token);
    // Inactive: cannot log in with any password.
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email, password: '!unset' } })).status, 401);
    const act = await t.api('POST', '/v1/auth/activate', { body: { token: created.body.activation_token, password: 'my own password' } });
    assert.equal(act.status, 200);
    assert.equal(act.body.user.active, true);
    assert.equal(act.body.team.id, created.body.team.id);
    assert.equal((await t.api('GET', '/v1/me', { auth: act.body.token })).status, 200);
    const again = await t.api('POST', '/v1/auth/activate', { body: { token: created.body.activation_token, password: 'other password' } });
    assert.equal(again.status, 401);
    assert.match(again.body.error.message, /used or expired/);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email, password: 'my own password' } })).status, 200);
  });

  test('an expired activation token → 401', async () => {
    const created = await t.api('POST', '/v1/admin/users', { auth: admin.jwt, body: { email: uniqueEmail('late') } });
    await t.cp.ctx.db.updateTable('user_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', created.body.user.id).execute();
    const r = await t.api('POST', '/v1/auth/activate', { body: { token: created.body.activation_token, password: 'password123' } });
    assert.equal(r.status, 401);
  });

  test('GET /admin/users lists users; the last administrator cannot be disabled or demoted', async () => {
    const list = await t.api('GET', '/v1/admin/users?limit=1000', { auth: admin.jwt });
    assert.equal(list.status, 200);
    assert.ok(list.body.users.some((u: { id: string; is_admin: boolean }) => u.id === admin.userId && u.is_admin));
    const admins = await t.cp.ctx.db.selectFrom('users').select('id').where('is_admin', '=', true).where('active', '=', true).execute();
    assert.equal(admins.length, 1, 'this test expects one administrator');
    for (const body of [{ active: false }, { is_admin: false }]) {
      const r = await t.api('PATCH', `/v1/admin/users/${admin.userId}`, { auth: admin.jwt, body });
      assert.equal(r.status, 409, JSON.stringify(body));
      assert.match(r.body.error.message, /last active administrator/);
    }
    assert.equal((await t.api('PATCH', '/v1/admin/users/usr-nope', { auth: admin.jwt, body: { active: false } })).status, 404);
  });
});

describe('accounts: configuration and bootstrap', () => {
  test('signup is refused with 403 when WRENN_SIGNUP=false', async () => {
    const t = await startControlPlane({ env: { WRENN_SIGNUP: 'false' } });
    try {
      const r = await t.api('POST', '/v1/auth/signup', { body: { email: uniqueEmail('closed'), password: 'password1' } });
      assert.equal(r.status, 403);
      assert.match(r.body.error.message, /signup is disabled/);
    } finally {
      await t.close();
    }
  });

  test('ensureAdmin creates the first administrator, team and API key once, then reports the existing one', async () => {
    const t = await startControlPlane();
    try {
      const first = await ensureAdmin(t.cp.ctx);
      assert.equal(first.created, true);
      assert.equal(first.user.email, DEFAULT_ADMIN_EMAIL);
      assert.equal(first.user.is_admin, true);
      assert.match(first.apiKey!, /^wrn_[0-9a-f]{32}$/);
      assert.ok(first.password && first.password.length >= 12);
      const login = await t.api('POST', '/v1/auth/login', { body: { email: DEFAULT_ADMIN_EMAIL, password: first.password } });
      assert.equal(login.status, 200);
      assert.equal((await t.api('GET', '/v1/admin/users', { auth: login.body.token })).status, 200);
      const viaKey = await t.api('GET', '/v1/audit-logs', { auth: first.apiKey! });
      assert.equal(viaKey.status, 200);

      const second = await ensureAdmin(t.cp.ctx, { email: 'other@example.test', password: 'another password' });
      assert.equal(second.created, false);
      assert.equal(second.user.id, first.user.id);
      assert.equal(second.team.id, first.team.id);
      assert.equal(second.apiKey, undefined);
      assert.equal(second.password, undefined);
      const users = await t.cp.ctx.db.selectFrom('users').select('id').execute();
      assert.equal(users.length, 1);
    } finally {
      await t.close();
    }
  });

  test('ensureAdmin uses the given email and password and returns no password', async () => {
    const t = await startControlPlane();
    try {
      const r = await ensureAdmin(t.cp.ctx, { email: 'Boss@Example.test', password: 'chosen password' });
      assert.equal(r.created, true);
      assert.equal(r.user.email, 'boss@example.test');
      assert.equal(r.password, undefined);
      assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: 'boss@example.test', password: 'chosen password' } })).status, 200);
    } finally {
      await t.close();
    }
  });
});

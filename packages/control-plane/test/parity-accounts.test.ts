/**
 * The accounts operations of Wrenn's contract that are new or reshaped here, against a real
 * control plane: AuthResponse fields, GET /me, PATCH /me's new token, DELETE /me's
 * confirmation, confirm_password, user search, leaving a team, team detail with members,
 * and the administrators' PUT /admin/users/{id}/active|admin and paged list.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

describe('accounts: the contract operations', () => {
  let t: TestControlPlane;
  let admin: SeededTeam;
  const tag = randomBytes(3).toString('hex');

  const signup = async (local: string) => {
    const email = `${local}-${tag}@parity.test`;
    const r = await t.api('POST', '/v1/auth/signup', { body: { email, password: 'password1', name: local } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return { email, token: r.body.token as string, userId: r.body.user_id as string, teamId: r.body.team_id as string };
  };

  before(async () => {
    t = await startControlPlane();
    admin = await seedTeam(t.cp, { isAdmin: true });
  });
  after(async () => {
    await t?.close();
  });

  test('signup answers a message beside the session; activate without a password is 400 for an account that has none, and the token still works with one', async () => {
    const r = await t.api('POST', '/v1/auth/signup', { body: { email: `msg-${tag}@parity.test`, password: 'password1', name: 'msg' } });
    assert.equal(typeof r.body.message, 'string');
    const invited = await t.api('POST', '/v1/admin/users', { auth: admin.jwt, body: { email: `invited-${tag}@parity.test` } });
    assert.equal(invited.status, 201, JSON.stringify(invited.body));
    const bare = await t.api('POST', '/v1/auth/activate', { body: { token: invited.body.activation_token } });
    assert.equal(bare.status, 400, JSON.stringify(bare.body));
    const done = await t.api('POST', '/v1/auth/activate', { body: { token: invited.body.activation_token, password: 'password9' } });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.email, `invited-${tag}@parity.test`);
  });

  test("login answers Wrenn's AuthResponse fields (token, user_id, team_id, email, name)", async () => {
    const u = await signup('auth');
    const r = await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: 'password1' } });
    assert.equal(r.status, 200);
    assert.equal(r.body.user_id, u.userId);
    assert.equal(r.body.team_id, u.teamId);
    assert.equal(r.body.email, u.email);
    assert.equal(r.body.name, 'auth');
    assert.equal(typeof r.body.token, 'string');
  });

  test('GET /me has name, email, has_password and providers', async () => {
    const u = await signup('me');
    const r = await t.api('GET', '/v1/me', { auth: u.token });
    assert.equal(r.status, 200);
    assert.equal(r.body.email, u.email);
    assert.equal(r.body.name, 'me');
    assert.equal(r.body.has_password, true);
    assert.deepEqual(r.body.providers, []);
  });

  test('PATCH /me {name} answers a new token that works, carrying the new name', async () => {
    const u = await signup('rename');
    const r = await t.api('PATCH', '/v1/me', { auth: u.token, body: { name: 'Renamed' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.name, 'Renamed');
    assert.equal(r.body.user_id, u.userId);
    assert.equal(r.body.team_id, u.teamId);
    assert.equal((await t.api('GET', '/v1/me', { auth: r.body.token })).body.name, 'Renamed');
  });

  test('DELETE /me with a confirmation that is not the email is 400 and deletes nothing; the email (any case) deletes', async () => {
    const u = await signup('leaver');
    const wrong = await t.api('DELETE', '/v1/me', { auth: u.token, body: { confirmation: 'someone@else.test' } });
    assert.equal(wrong.status, 400);
    assert.equal((await t.api('GET', '/v1/me', { auth: u.token })).status, 200);
    const ok = await t.api('DELETE', '/v1/me', { auth: u.token, body: { confirmation: u.email.toUpperCase() } });
    assert.equal(ok.status, 204, JSON.stringify(ok.body));
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: 'password1' } })).status, 401);
  });

  test('POST /me/password with a confirm_password that differs is 400 and the password stays', async () => {
    const u = await signup('pw');
    const r = await t.api('POST', '/v1/me/password', { auth: u.token, body: { current_password: 'password1', new_password: 'password2', confirm_password: 'password3' } });
    assert.equal(r.status, 400);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: 'password1' } })).status, 200);
    const ok = await t.api('POST', '/v1/me/password', { auth: u.token, body: { current_password: 'password1', new_password: 'password2', confirm_password: 'password2' } });
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('GET /users/search finds active users by email prefix (at most 10, ids and emails only); a short or @-less prefix is 400', async () => {
    const a = await signup(`srch${tag}a`);
    const b = await signup(`srch${tag}b`);
    await signup(`other${tag}`);
    const noAt = await t.api('GET', `/v1/users/search?email=${encodeURIComponent(`srch${tag}a-`)}`, { auth: a.token });
    assert.equal(noAt.status, 400, 'the prefix must contain @');
    const hit = await t.api('GET', `/v1/users/search?email=${encodeURIComponent(`srch${tag}a-${tag}@`)}`, { auth: b.token });
    assert.equal(hit.status, 200, JSON.stringify(hit.body));
    assert.deepEqual(hit.body, [{ user_id: a.userId, email: a.email }]);
    assert.equal((await t.api('GET', '/v1/users/search?email=a@', { auth: a.token })).status, 400);
    assert.equal((await t.api('GET', '/v1/users/search?email=%25%25%40', { auth: a.token })).body.length, 0, 'LIKE wildcards match themselves');
    assert.equal((await t.api('GET', `/v1/users/search?email=${encodeURIComponent(a.email)}`)).status, 401);
  });

  test('POST /teams/{id}/leave: a member leaves (204, the team is gone from their list); the last owner cannot', async () => {
    const owner = await signup('owner');
    const member = await signup('member');
    const team = await t.api('POST', '/v1/teams', { auth: owner.token, body: { name: 'Crew Leave' } });
    assert.equal(team.status, 201);
    assert.equal(team.body.slug, 'crew-leave');
    await t.api('POST', `/v1/teams/${team.body.id}/members`, { auth: owner.token, body: { email: member.email } });
    const detail = await t.api('GET', `/v1/teams/${team.body.id}`, { auth: owner.token });
    assert.equal(detail.body.team.id, team.body.id);
    assert.deepEqual(detail.body.members.map((m: { user_id: string }) => m.user_id).sort(), [owner.userId, member.userId].sort());
    const left = await t.api('POST', `/v1/teams/${team.body.id}/leave`, { auth: member.token });
    assert.equal(left.status, 204, JSON.stringify(left.body));
    const mine = await t.api('GET', '/v1/teams', { auth: member.token });
    assert.ok(!mine.body.some((x: { id: string }) => x.id === team.body.id));
    const ownerLeaves = await t.api('POST', `/v1/teams/${team.body.id}/leave`, { auth: owner.token });
    assert.equal(ownerLeaves.status, 409, JSON.stringify(ownerLeaves.body));
    assert.equal((await t.api('POST', `/v1/teams/${team.body.id}/leave`, { auth: member.token })).status, 404, 'no longer a member');
  });

  test('admin: GET /admin/users is paged with team counts; PUT /admin/users/{id}/active and /admin toggle (204), not for yourself', async () => {
    const u = await signup('managed');
    const list = await t.api('GET', '/v1/admin/users?page=1', { auth: admin.jwt });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.equal(list.body.page, 1);
    assert.equal(list.body.per_page, 100);
    assert.ok(list.body.total >= 2 && list.body.total_pages >= 1);
    const row = list.body.users.find((x: { id: string }) => x.id === u.userId);
    assert.equal(row.status, 'active');
    assert.equal(row.teams_owned, 1);
    assert.equal((await t.api('PUT', `/v1/admin/users/${u.userId}/active`, { auth: admin.jwt, body: { active: false } })).status, 204);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: 'password1' } })).status, 401);
    assert.equal((await t.api('PUT', `/v1/admin/users/${u.userId}/active`, { auth: admin.jwt, body: { active: true } })).status, 204);
    const relogged = await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: 'password1' } });
    assert.equal(relogged.status, 200);
    assert.equal((await t.api('PUT', `/v1/admin/users/${u.userId}/active`, { auth: relogged.body.token, body: { active: false } })).status, 403, 'not an administrator');
    assert.equal((await t.api('PUT', `/v1/admin/users/${u.userId}/admin`, { auth: admin.jwt, body: { admin: true } })).status, 204);
    const promoted = await t.cp.ctx.db.selectFrom('users').select('is_admin').where('id', '=', u.userId).executeTakeFirstOrThrow();
    assert.equal(promoted.is_admin, true);
    assert.equal((await t.api('PUT', `/v1/admin/users/${admin.userId}/active`, { auth: admin.jwt, body: { active: false } })).status, 400);
    assert.equal((await t.api('PUT', '/v1/admin/users/usr-nope/admin', { auth: admin.jwt, body: { admin: true } })).status, 404);
  });
});

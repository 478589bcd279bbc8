/**
 * API keys follow the user who created them: removing the member revokes their keys for
 * that team (with the reason), disabling the user suspends every key they created (listed
 * `suspended`, working again once re-enabled), deleting the account revokes them; and a
 * removed member's JWTs for the team stay dead after they are added back.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

describe('keys follow their owner', () => {
  let t: TestControlPlane;
  let owner: SeededTeam;
  let admin: SeededTeam;

  before(async () => {
    t = await startControlPlane();
    owner = await seedTeam(t.cp);
    admin = await seedTeam(t.cp, { isAdmin: true });
  });
  after(async () => {
    await t?.close();
  });

  /** A user who joins `owner`'s team and logs into it: their JWT for it and a key they create there. */
  async function joinAndMakeKey(): Promise<{ user: SeededTeam; jwt: string; key: string; keyId: string }> {
    const user = await seedTeam(t.cp);
    assert.equal((await t.api('POST', `/v1/teams/${owner.teamId}/members`, { auth: owner.jwt, body: { email: user.email, role: 'member' } })).status, 201);
    const switched = await t.api('POST', '/v1/auth/switch-team', { auth: user.jwt, body: { team_id: owner.teamId } });
    assert.equal(switched.status, 200, JSON.stringify(switched.body));
    const created = await t.api('POST', '/v1/api-keys', { auth: switched.body.token, body: { name: 'mine' } });
    assert.equal(created.status, 201);
    assert.equal((await t.api('GET', '/v1/capsules', { auth: created.body.key })).status, 200);
    return { user, jwt: switched.body.token, key: created.body.key, keyId: created.body.id };
  }

  test("removing a member revokes the keys they created in that team (not others'), saying why", async () => {
    const m = await joinAndMakeKey();
    const ownKey = await t.api('GET', '/v1/capsules', { auth: m.user.apiKey });
    assert.equal(ownKey.status, 200);
    assert.equal((await t.api('DELETE', `/v1/teams/${owner.teamId}/members/${m.user.userId}`, { auth: owner.jwt })).status, 204);
    const refused = await t.api('GET', '/v1/capsules', { auth: m.key });
    assert.equal(refused.status, 401);
    assert.match(refused.body.error.message, /removed from the team/);
    // The owner's key and the member's key for their own team keep working.
    assert.equal((await t.api('GET', '/v1/capsules', { auth: owner.apiKey })).status, 200);
    assert.equal((await t.api('GET', '/v1/capsules', { auth: m.user.apiKey })).status, 200);
    const row = await t.cp.ctx.db.selectFrom('api_keys').select(['revoked_at', 'revoked_reason']).where('id', '=', m.keyId).executeTakeFirstOrThrow();
    assert.ok(row.revoked_at);
    assert.equal(row.revoked_reason, 'member_removed');
  });

  test('a removed member added back: old JWT for the team refused, old key stays revoked, a new login works', async () => {
    const m = await joinAndMakeKey();
    assert.equal((await t.api('DELETE', `/v1/teams/${owner.teamId}/members/${m.user.userId}`, { auth: owner.jwt })).status, 204);
    assert.equal((await t.api('POST', `/v1/teams/${owner.teamId}/members`, { auth: owner.jwt, body: { email: m.user.email, role: 'member' } })).status, 201);
    const old = await t.api('GET', '/v1/capsules', { auth: m.jwt });
    assert.equal(old.status, 401, JSON.stringify(old.body));
    assert.match(old.body.error.message, /before you were removed/);
    assert.equal((await t.api('GET', '/v1/capsules', { auth: m.key })).status, 401);
    const fresh = await t.api('POST', '/v1/auth/switch-team', { auth: m.user.jwt, body: { team_id: owner.teamId } });
    assert.equal(fresh.status, 200);
    assert.equal((await t.api('GET', '/v1/capsules', { auth: fresh.body.token })).status, 200);
  });

  test('disabling a user suspends every key they created (listed as suspended); re-enabling restores them', async () => {
    const m = await joinAndMakeKey();
    assert.equal((await t.api('PATCH', `/v1/admin/users/${m.user.userId}`, { auth: admin.jwt, body: { active: false } })).status, 200);
    for (const key of [m.key, m.user.apiKey]) {
      const r = await t.api('GET', '/v1/capsules', { auth: key });
      assert.equal(r.status, 401);
      assert.match(r.body.error.message, /suspended/);
    }
    const listed = await t.api('GET', '/v1/api-keys', { auth: owner.jwt });
    assert.equal(listed.body.find((k: { id: string }) => k.id === m.keyId)?.status, 'suspended');
    assert.equal(listed.body.find((k: { id: string }) => k.id === owner.apiKeyId)?.status, 'active');
    assert.equal((await t.api('PATCH', `/v1/admin/users/${m.user.userId}`, { auth: admin.jwt, body: { active: true } })).status, 200);
    assert.equal((await t.api('GET', '/v1/capsules', { auth: m.key })).status, 200);
  });

  test('a user deleting their account revokes the keys they created in teams that live on', async () => {
    const m = await joinAndMakeKey();
    const deleted = await t.api('DELETE', '/v1/me', { auth: m.user.jwt });
    assert.equal(deleted.status, 204, JSON.stringify(deleted.body));
    const r = await t.api('GET', '/v1/capsules', { auth: m.key });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /deleted their account/);
  });
});

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sha256Hex } from '../src/infra/secrets.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

describe('API keys', () => {
  let t: TestControlPlane;
  let team: SeededTeam;

  before(async () => {
    t = await startControlPlane();
    team = await seedTeam(t.cp);
  });
  after(async () => {
    await t?.close();
  });

  test('POST /api-keys returns the key once (wrn_ + 32 hex); only its SHA-256 is stored', async () => {
    const r = await t.api('POST', '/v1/api-keys', { auth: team.jwt, body: { name: 'ci' } });
    assert.equal(r.status, 201);
    assert.match(r.body.id, /^key-/);
    assert.equal(r.body.name, 'ci');
    assert.match(r.body.key, /^wrn_[0-9a-f]{32}$/);
    assert.equal(r.body.key_prefix, r.body.key.slice(0, 12));
    assert.equal(r.body.created_by, team.userId);
    assert.match(r.body.created_at, /Z$/);
    const row = await t.cp.ctx.db.selectFrom('api_keys').selectAll().where('id', '=', r.body.id).executeTakeFirstOrThrow();
    assert.equal(row.key_hash, sha256Hex(r.body.key));
    assert.equal(row.team_id, team.teamId);
    assert.ok(!Object.values(row).some((v) => typeof v === 'string' && v.includes(r.body.key)), 'the plain key is stored nowhere');
  });

  test('GET /api-keys lists the team keys without the keys themselves, and records use', async () => {
    const created = await t.api('POST', '/v1/api-keys', { auth: team.jwt, body: { name: 'listed' } });
    assert.equal((await t.api('GET', '/v1/audit-logs', { auth: created.body.key })).status, 200);
    // last_used_at is written off the request path.
    let listed: { id: string; last_used_at: string | null } | undefined;
    for (let i = 0; i < 50; i++) {
      const list = await t.api('GET', '/v1/api-keys', { auth: team.jwt });
      assert.equal(list.status, 200);
      assert.ok(!JSON.stringify(list.body).includes(created.body.key), 'no key in the list');
      assert.ok(list.body.every((k: Record<string, unknown>) => !('key' in k) && !('key_hash' in k)));
      listed = list.body.find((k: { id: string }) => k.id === created.body.id);
      if (listed?.last_used_at) break;
      await new Promise((res) => setTimeout(res, 50));
    }
    assert.ok(listed, 'the new key is listed');
    assert.match(listed.last_used_at ?? '', /Z$/);
  });

  test('a key acts for its own team only', async () => {
    const other = await seedTeam(t.cp);
    const created = await t.api('POST', '/v1/api-keys', { auth: other.jwt, body: { name: 'other team' } });
    const mine = await t.api('GET', '/v1/api-keys', { auth: team.jwt });
    assert.ok(!mine.body.some((k: { id: string }) => k.id === created.body.id));
    const revoke = await t.api('DELETE', `/v1/api-keys/${created.body.id}`, { auth: team.jwt });
    assert.equal(revoke.status, 404);
    assert.equal((await t.api('GET', '/v1/audit-logs', { auth: created.body.key })).status, 200, 'still valid after the foreign revoke attempt');
  });

  test('DELETE /api-keys/{id} revokes: the key gets 401, leaves the list, a second revoke is 404', async () => {
    const created = await t.api('POST', '/v1/api-keys', { auth: team.jwt, body: { name: 'short-lived' } });
    assert.equal((await t.api('DELETE', `/v1/api-keys/${created.body.id}`, { auth: team.jwt })).status, 204);
    const r = await t.api('GET', '/v1/audit-logs', { auth: created.body.key });
    assert.equal(r.status, 401);
    const list = await t.api('GET', '/v1/api-keys', { auth: team.jwt });
    assert.ok(!list.body.some((k: { id: string }) => k.id === created.body.id));
    assert.equal((await t.api('DELETE', `/v1/api-keys/${created.body.id}`, { auth: team.jwt })).status, 404);
    assert.equal((await t.api('DELETE', '/v1/api-keys/key-unknown', { auth: team.jwt })).status, 404);
  });

  test("a plain member revokes their own keys, not another member's; an owner revokes any", async () => {
    const member = await seedTeam(t.cp, { role: 'member' });
    const memberJwt = await t.cp.ctx.jwt.sign({ kind: 'user', user: member.userId, team: team.teamId, role: 'member', is_admin: false });
    await t.cp.ctx.db.insertInto('memberships').values({ team_id: team.teamId, user_id: member.userId, role: 'member' }).execute();
    const ownersKey = await t.api('POST', '/v1/api-keys', { auth: team.jwt, body: { name: "owner's" } });
    const membersKey = await t.api('POST', '/v1/api-keys', { auth: memberJwt, body: { name: "member's" } });
    assert.equal(membersKey.status, 201);
    const refused = await t.api('DELETE', `/v1/api-keys/${ownersKey.body.id}`, { auth: memberJwt });
    assert.equal(refused.status, 403);
    assert.match(refused.body.error.message, /creator or a team owner or admin/);
    const membersSecond = await t.api('POST', '/v1/api-keys', { auth: memberJwt, body: { name: "member's second" } });
    assert.equal((await t.api('DELETE', `/v1/api-keys/${membersKey.body.id}`, { auth: memberJwt })).status, 204);
    assert.equal((await t.api('DELETE', `/v1/api-keys/${membersSecond.body.id}`, { auth: team.jwt })).status, 204);
  });

  test('bad inputs: missing or empty name, unknown fields → 400; an API key cannot create keys → 403', async () => {
    for (const body of [{}, { name: '' }, { name: 'x', scope: 'all' }]) {
      const r = await t.api('POST', '/v1/api-keys', { auth: team.jwt, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.reason, 'invalid_argument');
      assert.equal(r.body.error.code, 'invalid_request');
    }
    const r = await t.api('POST', '/v1/api-keys', { auth: team.apiKey, body: { name: 'from a key' } });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /user token/);
  });
});

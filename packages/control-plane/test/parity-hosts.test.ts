/**
 * Host operations of Wrenn's contract against a real control plane: BYOC hosts (who may
 * create, see and manage them; only their team's capsules are placed there), tags and
 * placement that honours a capsule's host_tags, token regeneration, delete-preview, and
 * the administrators' /admin/teams (list, BYOC flag, delete).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../src/domain/ids.js';
import { sha256Hex } from '../src/infra/secrets.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

const GB = 1024 ** 3;

describe('hosts: BYOC, tags, token, delete-preview; admin teams', () => {
  let t: TestControlPlane;
  let admin: SeededTeam;
  let owner: SeededTeam;
  let member: SeededTeam;
  let stranger: SeededTeam;

  /** A registered-looking host row (placement is database logic: no agent is contacted). */
  async function upHost(fields: { type?: 'regular' | 'byoc'; team_id?: string | null; tags?: string[] } = {}): Promise<string> {
    const id = newId('host');
    await t.cp.ctx.db
      .insertInto('hosts')
      .values({
        id,
        name: id,
        status: 'up',
        vcpus_total: 4,
        memory_total_bytes: String(8 * GB),
        memory_free_bytes: String(8 * GB),
        disk_free_bytes: String(100 * GB),
        last_heartbeat_at: new Date(),
        type: fields.type ?? 'regular',
        team_id: fields.team_id ?? null,
        tags: JSON.stringify(fields.tags ?? []),
      })
      .execute();
    return id;
  }

  before(async () => {
    t = await startControlPlane();
    admin = await seedTeam(t.cp, { isAdmin: true });
    owner = await seedTeam(t.cp, { role: 'owner' });
    stranger = await seedTeam(t.cp, { role: 'owner' });
    member = await seedTeam(t.cp, { role: 'member' });
    // `member` joins the owner's team as a member, with a token acting for it.
    await t.cp.ctx.db.insertInto('memberships').values({ team_id: owner.teamId, user_id: member.userId, role: 'member' }).execute();
    member.jwt = await t.cp.ctx.jwt.sign({ kind: 'user', user: member.userId, team: owner.teamId, role: 'member', is_admin: false });
  });
  after(async () => {
    await t?.close();
  });

  test('BYOC: refused until an administrator enables it for the team; then its owner creates one, its members see it, others get 404', async () => {
    const before = await t.api('POST', '/v1/hosts', { auth: owner.jwt, body: { type: 'byoc' } });
    assert.equal(before.status, 403, JSON.stringify(before.body));
    assert.match(before.body.error.message, /BYOC is not enabled/);
    assert.equal((await t.api('POST', '/v1/hosts', { auth: owner.jwt, body: { type: 'regular' } })).status, 403);

    assert.equal((await t.api('PUT', `/v1/admin/teams/${owner.teamId}/byoc`, { auth: owner.jwt, body: { enabled: true } })).status, 403, 'administrators only');
    assert.equal((await t.api('PUT', `/v1/admin/teams/${owner.teamId}/byoc`, { auth: admin.jwt, body: { enabled: true } })).status, 204);
    const teams = await t.api('GET', '/v1/admin/teams', { auth: admin.jwt });
    assert.equal(teams.status, 200, JSON.stringify(teams.body));
    assert.equal(teams.body.teams.find((x: { id: string }) => x.id === owner.teamId).is_byoc, true);

    const created = await t.api('POST', '/v1/hosts', { auth: owner.jwt, body: { type: 'byoc', provider: 'hetzner', availability_zone: 'fsn1' } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.host.type, 'byoc');
    assert.equal(created.body.host.team_id, owner.teamId);
    assert.equal(created.body.host.provider, 'hetzner');
    assert.equal(created.body.host.status, 'pending');
    assert.match(created.body.registration_token, /^hreg_/);
    const id = created.body.host.id;

    assert.deepEqual((await t.api('GET', '/v1/hosts', { auth: member.jwt })).body.map((h: { id: string }) => h.id), [id]);
    assert.equal((await t.api('GET', `/v1/hosts/${id}`, { auth: member.jwt })).status, 200);
    assert.equal((await t.api('POST', `/v1/hosts/${id}/tags`, { auth: member.jwt, body: { tag: 'gpu' } })).status, 403, 'members see, owners and admins manage');
    assert.equal((await t.api('GET', `/v1/hosts/${id}`, { auth: stranger.jwt })).status, 404);
    assert.deepEqual((await t.api('GET', '/v1/hosts', { auth: stranger.jwt })).body, []);
    assert.equal((await t.api('POST', '/v1/hosts', { auth: stranger.jwt, body: { type: 'byoc', team_id: owner.teamId } })).status, 403);
  });

  test('POST /hosts/{id}/token gives a new registration token while the host is pending (the old one stops working), 409 once registered', async () => {
    const created = await t.api('POST', '/v1/hosts', { auth: admin.jwt, body: { type: 'regular' } });
    assert.equal(created.status, 201);
    const id = created.body.host.id;
    const again = await t.api('POST', `/v1/hosts/${id}/token`, { auth: admin.jwt });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    assert.notEqual(again.body.registration_token, created.body.registration_token);
    assert.equal(again.body.host.id, id);
    const register = (token: string) =>
      t.api('POST', '/v1/hosts/register', {
        body: { token, agent_url: 'http://127.0.0.1:1', vcpus_total: 1, memory_total_bytes: GB, memory_free_bytes: GB, disk_free_bytes: GB, agent_token: 'x', version: 'test' },
      });
    assert.equal((await register(created.body.registration_token)).status, 401, 'the old token no longer registers');
    const stored = await t.cp.ctx.db.selectFrom('host_tokens').select(['token_hash']).where('host_id', '=', id).where('kind', '=', 'registration').execute();
    assert.deepEqual(stored.map((r) => r.token_hash), [sha256Hex(again.body.registration_token)], 'only the new token is stored, as its hash');
    // Registered (as the registration flow leaves it): no new token.
    await t.cp.ctx.db.updateTable('hosts').set({ status: 'up' }).where('id', '=', id).execute();
    assert.equal((await t.api('POST', `/v1/hosts/${id}/token`, { auth: admin.jwt })).status, 409);
    assert.equal((await t.api('POST', '/v1/hosts/host-nope/token', { auth: admin.jwt })).status, 404);
  });

  test('tags: add (idempotent), list, remove (404 when absent); bad tags are 400', async () => {
    const id = await upHost();
    assert.deepEqual((await t.api('GET', `/v1/hosts/${id}/tags`, { auth: admin.jwt })).body, []);
    assert.equal((await t.api('POST', `/v1/hosts/${id}/tags`, { auth: admin.jwt, body: { tag: 'gpu' } })).status, 204);
    assert.equal((await t.api('POST', `/v1/hosts/${id}/tags`, { auth: admin.jwt, body: { tag: 'gpu' } })).status, 204);
    assert.equal((await t.api('POST', `/v1/hosts/${id}/tags`, { auth: admin.jwt, body: { tag: 'zone=eu' } })).status, 204);
    assert.deepEqual((await t.api('GET', `/v1/hosts/${id}/tags`, { auth: admin.jwt })).body, ['gpu', 'zone=eu']);
    assert.deepEqual((await t.api('GET', `/v1/hosts/${id}`, { auth: admin.jwt })).body.tags, ['gpu', 'zone=eu']);
    assert.equal((await t.api('POST', `/v1/hosts/${id}/tags`, { auth: admin.jwt, body: { tag: 'has space' } })).status, 400);
    assert.equal((await t.api('DELETE', `/v1/hosts/${id}/tags/gpu`, { auth: admin.jwt })).status, 204);
    assert.equal((await t.api('DELETE', `/v1/hosts/${id}/tags/gpu`, { auth: admin.jwt })).status, 404);
    assert.deepEqual((await t.api('GET', `/v1/hosts/${id}/tags`, { auth: admin.jwt })).body, ['zone=eu']);
    await t.cp.ctx.db.deleteFrom('hosts').where('id', '=', id).execute();
  });

  test("placement: a capsule asking for tags goes only to a host carrying all of them; another team's BYOC host is never used", async () => {
    const plain = await upHost();
    const tagged = await upHost({ tags: ['gpu', 'eu'] });
    const byoc = await upHost({ type: 'byoc', team_id: owner.teamId, tags: ['gpu', 'eu', 'big'] });
    try {
      const pick = (teamId: string, hostTags?: string[]) => t.cp.ctx.scheduler.pick({ vcpus: 1, memoryMb: 256, diskSizeMb: 0, teamId, ...(hostTags ? { hostTags } : {}) });
      for (let i = 0; i < 5; i++) assert.equal((await pick(stranger.teamId, ['gpu', 'eu'])).id, tagged);
      await assert.rejects(pick(stranger.teamId, ['big']), /lacks tag big/);
      assert.equal((await pick(owner.teamId, ['big'])).id, byoc, "the team's own BYOC host takes it");
      const anyHost = await pick(stranger.teamId);
      assert.ok([plain, tagged].includes(anyHost.id), 'never the BYOC host of another team');
      // Through the API: the request is refused with the reason, never placed elsewhere.
      const r = await t.api('POST', '/v1/capsules', { auth: stranger.apiKey, body: { host_tags: ['big'] } });
      assert.equal(r.status, 503, JSON.stringify(r.body));
      assert.equal((await t.cp.ctx.db.selectFrom('capsules').select('host_id').where('team_id', '=', stranger.teamId).executeTakeFirst())?.host_id ?? null, null, 'never placed');
    } finally {
      await t.cp.ctx.db.deleteFrom('hosts').where('id', 'in', [plain, tagged, byoc]).execute();
    }
  });

  test('GET /hosts/{id}/delete-preview lists the capsules a delete would affect; the 409 of a delete names them too', async () => {
    const id = await upHost();
    const capsuleId = newId('cl');
    await t.cp.ctx.db
      .insertInto('capsules')
      .values({ id: capsuleId, team_id: stranger.teamId, host_id: id, template: 'minimal', vcpus: 1, memory_mb: 256, disk_size_mb: 0, timeout_sec: 0, auto_resume: false, metadata: '{}', status: 'running', address: null, envd_token: null })
      .execute();
    const preview = await t.api('GET', `/v1/hosts/${id}/delete-preview`, { auth: admin.jwt });
    assert.equal(preview.status, 200, JSON.stringify(preview.body));
    assert.equal(preview.body.host.id, id);
    assert.deepEqual(preview.body.sandbox_ids, [capsuleId]);
    const refused = await t.api('DELETE', `/v1/hosts/${id}`, { auth: admin.jwt });
    assert.equal(refused.status, 409);
    assert.deepEqual(refused.body.error.details.sandbox_ids, [capsuleId]);
    assert.equal((await t.api('GET', `/v1/hosts/${id}/delete-preview`, { auth: owner.jwt })).status, 404, 'a regular host is invisible to non-administrators');
    assert.equal((await t.api('DELETE', `/v1/hosts/${id}?force=true`, { auth: admin.jwt })).status, 204);
  });

  test('admin teams: list with counts, PUT byoc, DELETE a team (its capsules must be stopped first)', async () => {
    const doomed = await seedTeam(t.cp, { role: 'owner' });
    const list = await t.api('GET', '/v1/admin/teams', { auth: admin.jwt });
    const row = list.body.teams.find((x: { id: string }) => x.id === doomed.teamId);
    assert.equal(row.member_count, 1);
    assert.equal(row.is_byoc, false);
    assert.ok(list.body.total >= 4);
    assert.equal((await t.api('GET', '/v1/admin/teams', { auth: owner.jwt })).status, 403);
    assert.equal((await t.api('PUT', '/v1/admin/teams/team-nope/byoc', { auth: admin.jwt, body: { enabled: true } })).status, 404);
    assert.equal((await t.api('DELETE', `/v1/admin/teams/${doomed.teamId}`, { auth: admin.jwt })).status, 204);
    assert.equal((await t.api('GET', '/v1/admin/teams', { auth: admin.jwt })).body.teams.some((x: { id: string }) => x.id === doomed.teamId), false);
    assert.equal((await t.api('GET', '/v1/capsules', { auth: doomed.apiKey })).status, 401, "the team's keys went with it");
    assert.equal((await t.api('DELETE', `/v1/admin/teams/${doomed.teamId}`, { auth: admin.jwt })).status, 404);
  });
});

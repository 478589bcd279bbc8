/**
 * What callers who should not know do not learn: host capacity details (only
 * administrators see which hosts refused and why), and /metrics (only with
 * WRENN_METRICS_TOKEN, or from a local scraper when it is unset).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { newId } from '../src/domain/ids.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

const GB = 1024 ** 3;

describe('host_at_capacity details are for administrators', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let admin: SeededTeam;
  let hostId: string;

  before(async () => {
    t = await startControlPlane();
    team = await seedTeam(t.cp);
    admin = await seedTeam(t.cp, { isAdmin: true });
    // Capacity rows only: placement fails in the database, no agent is contacted.
    hostId = newId('host');
    await t.cp.ctx.db
      .insertInto('hosts')
      .values({ id: hostId, name: 'small', status: 'up', vcpus_total: 2, memory_total_bytes: String(4 * GB), memory_free_bytes: String(4 * GB), disk_free_bytes: String(50 * GB), last_heartbeat_at: new Date() })
      .execute();
  });
  after(async () => {
    await t?.close();
  });

  test('a team member gets a 503 without host ids or sizes, in the answer and in the capsule row', async () => {
    const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { vcpus: 4 } });
    assert.equal(r.status, 503);
    assert.equal(r.body.error.reason, 'host_at_capacity');
    assert.equal(r.body.error.code, 'host_unavailable');
    assert.doesNotMatch(JSON.stringify(r.body), new RegExp(`${hostId}|cores|\\d+ MB`));
    const failed = await t.cp.ctx.db.selectFrom('capsules').select(['id', 'error']).where('team_id', '=', team.teamId).where('status', '=', 'error').executeTakeFirstOrThrow();
    const shown = await t.api('GET', `/v1/capsules/${failed.id}`, { auth: team.apiKey });
    assert.equal(shown.body.status, 'error');
    assert.match(shown.body.error, /no host can take this capsule/);
    assert.doesNotMatch(shown.body.error, new RegExp(hostId));
  });

  test('an administrator gets the reasons, host by host', async () => {
    const r = await t.api('POST', '/v1/capsules', { auth: admin.jwt, body: { vcpus: 4 } });
    assert.equal(r.status, 503);
    assert.match(r.body.error.message, new RegExp(`${hostId} has 2 cores`));
  });
});

describe('/metrics access', () => {
  test('with WRENN_METRICS_TOKEN: only the bearer of the token', async () => {
    const token = 'metrics-token-0123456789';
    const t = await startControlPlane({ env: { WRENN_METRICS_TOKEN: token } });
    try {
      assert.equal((await fetch(`${t.url}/metrics`)).status, 401);
      assert.equal((await fetch(`${t.url}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status, 401);
      const ok = await fetch(`${t.url}/metrics`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(ok.status, 200);
      assert.match(await ok.text(), /wrenn_capsules/);
    } finally {
      await t.close();
    }
  });

  test('without it: a local scraper, but nothing that came through a proxy', async () => {
    const t = await startControlPlane();
    try {
      assert.equal((await fetch(`${t.url}/metrics`)).status, 200);
      const proxied = await fetch(`${t.url}/metrics`, { headers: { 'x-forwarded-for': '203.0.113.9' } });
      assert.equal(proxied.status, 403);
      assert.match(((await proxied.json()) as { error: { message: string } }).error.message, /WRENN_METRICS_TOKEN/);
    } finally {
      await t.close();
    }
  });
});

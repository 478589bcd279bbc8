/**
 * The memory of usable capsules (src/domain/capsules/usable-memo.ts) never changes what a
 * call is answered: a status change made through the control plane is seen by the very
 * next call, another team still gets a 404, and a change made behind its back (SQL) is
 * seen within USABLE_MEMO_TTL_MS. Real capsules.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { USABLE_MEMO_TTL_MS } from '../src/domain/capsules/usable-memo.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

describe('usable capsule memory (real capsules)', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let other: SeededTeam;
  const created: string[] = [];

  const create = async (): Promise<string> => {
    const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { memory_mb: 256 } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    created.push(r.body.id);
    return r.body.id;
  };
  const exec = (id: string, auth = team.apiKey) => t.api('POST', `/v1/capsules/${id}/exec`, { auth, body: { cmd: '/bin/echo', args: ['ok'] } });

  before(async () => {
    t = await startControlPlane({ withAgent: true });
    team = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
  });
  after(async () => {
    for (const id of created) await t?.api('DELETE', `/v1/capsules/${id}`, { auth: team.apiKey }).catch(() => {});
    await t?.close();
  });

  test('pause, resume and destroy are seen by the very next call', async () => {
    const id = await create();
    assert.equal((await exec(id)).status, 200);
    assert.equal((await t.api('POST', `/v1/capsules/${id}/pause`, { auth: team.apiKey })).status, 200);
    const paused = await exec(id);
    assert.equal(paused.status, 409);
    assert.match(paused.body.error.message, /is paused/);
    assert.equal((await t.api('POST', `/v1/capsules/${id}/resume`, { auth: team.apiKey })).status, 200);
    assert.equal((await exec(id)).status, 200);
    assert.equal((await t.api('DELETE', `/v1/capsules/${id}`, { auth: team.apiKey })).status, 204);
    const stopped = await exec(id);
    assert.equal(stopped.status, 409);
    assert.match(stopped.body.error.message, /is stopped/);
  });

  test("a capsule just used by its team is still a 404 for another team's key", async () => {
    const id = await create();
    assert.equal((await exec(id)).status, 200);
    for (const call of [
      () => exec(id, other.apiKey),
      () => t.api('POST', `/v1/capsules/${id}/files/list`, { auth: other.apiKey, body: { path: '/' } }),
      () => t.api('GET', `/v1/capsules/${id}/processes`, { auth: other.apiKey }),
    ]) {
      const r = await call();
      assert.equal(r.status, 404);
      assert.equal(r.body.error.reason, 'capsule_not_found');
      assert.equal(r.body.error.code, 'not_found');
    }
  });

  test(`a status changed behind the control plane's back (SQL) is seen within ${USABLE_MEMO_TTL_MS} ms`, async () => {
    const id = await create();
    assert.equal((await exec(id)).status, 200);
    const changed = Date.now();
    await t.cp.ctx.db.updateTable('capsules').set({ status: 'error', error: 'set by hand' }).where('id', '=', id).execute();
    await new Promise((r) => setTimeout(r, Math.max(0, changed + USABLE_MEMO_TTL_MS + 50 - Date.now())));
    const r = await exec(id);
    assert.equal(r.status, 409);
    assert.match(r.body.error.message, /is error \(set by hand\)/);
  });
});

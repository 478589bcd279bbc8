/**
 * Snapshot templates through the REST API: a running capsule saved with its memory, capsules
 * created from it continue the saved processes, and the template is the team's alone.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

describe('snapshot templates API', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let other: SeededTeam;
  let source = '';
  const name = `snap-test-${process.pid}`;

  before(async () => {
    t = await startControlPlane({ withAgent: true });
    team = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
    const created = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { template: 'minimal', memory_mb: 512 } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    source = created.body.id;
    const bg = await t.api('POST', `/v1/capsules/${source}/exec`, {
      auth: team.apiKey,
      body: { cmd: 'python3', args: ['-c', 'import time\nn = 0\nwhile True:\n    n += 1\n    time.sleep(0.1)'], background: true, tag: 'counter' },
    });
    assert.equal(bg.status, 202, JSON.stringify(bg.body));
  });

  after(async () => {
    await t?.close();
  });

  test('POST /v1/snapshots saves a running capsule as a team template, and the source keeps running', async () => {
    const r = await t.api('POST', '/v1/snapshots', { auth: team.apiKey, body: { sandbox_id: source, name } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.name, name);
    assert.equal(r.body.type, 'snapshot');
    assert.ok(r.body.size_bytes > 0);
    const src = await t.api('GET', `/v1/capsules/${source}`, { auth: team.apiKey });
    assert.equal(src.body.status, 'running');
  });

  test('without a name, one is generated; the 0.1 alias capsule_id names the capsule too', async () => {
    const r = await t.api('POST', '/v1/snapshots', { auth: team.apiKey, body: { capsule_id: source } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    assert.match(r.body.name, /^[a-z0-9][a-z0-9._-]*$/);
    assert.notEqual(r.body.name, name);
    assert.equal(r.body.memory_mb, 512);
    assert.equal((await t.api('DELETE', `/v1/snapshots/${r.body.name}`, { auth: team.apiKey })).status, 204);
  });

  test('both capsule_id and sandbox_id, or neither, is a 400', async () => {
    assert.equal((await t.api('POST', '/v1/snapshots', { auth: team.apiKey, body: { sandbox_id: source, capsule_id: source } })).status, 400);
    assert.equal((await t.api('POST', '/v1/snapshots', { auth: team.apiKey, body: { name: 'x' } })).status, 400);
  });

  test('the same name again is a 409 unless overwrite=true', async () => {
    const again = await t.api('POST', '/v1/snapshots', { auth: team.apiKey, body: { capsule_id: source, name } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.reason, 'conflict');
    const over = await t.api('POST', '/v1/snapshots?overwrite=true', { auth: team.apiKey, body: { capsule_id: source, name } });
    assert.equal(over.status, 201, JSON.stringify(over.body));
  });

  test('GET /v1/snapshots lists base templates and the team\'s snapshots; other teams do not see it', async () => {
    const mine = await t.api('GET', '/v1/snapshots', { auth: team.apiKey });
    assert.ok(mine.body.some((s: { name: string; type: string }) => s.name === name && s.type === 'snapshot'));
    assert.ok(mine.body.some((s: { name: string; type: string }) => s.name === 'minimal' && s.type === 'base'));
    const onlySnapshots = await t.api('GET', '/v1/snapshots?type=snapshot', { auth: team.apiKey });
    assert.ok(onlySnapshots.body.every((s: { type: string }) => s.type === 'snapshot'));
    const theirs = await t.api('GET', '/v1/snapshots?type=snapshot', { auth: other.apiKey });
    assert.deepEqual(theirs.body, []);
  });

  test('a capsule created from the snapshot runs the saved processes', async () => {
    const clone = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { template: name, memory_mb: 512 } });
    assert.equal(clone.status, 201, JSON.stringify(clone.body));
    assert.equal(clone.body.status, 'running');
    const procs = await t.api('GET', `/v1/capsules/${clone.body.id}/processes`, { auth: team.apiKey });
    assert.ok(procs.body.processes.some((p: { tag: string }) => p.tag === 'counter'), JSON.stringify(procs.body));
    const del = await t.api('DELETE', `/v1/capsules/${clone.body.id}`, { auth: team.apiKey });
    assert.equal(del.status, 204);
  });

  test('another team cannot create a capsule from it', async () => {
    const r = await t.api('POST', '/v1/capsules', { auth: other.apiKey, body: { template: name } });
    assert.equal(r.status, 404, JSON.stringify(r.body));
  });

  test('names are per team: another team snapshots its own capsule under the same name, and neither reaches the other\'s by the host name', async () => {
    const mineRow = await t.cp.ctx.db.selectFrom('templates').select(['host_name']).where('name', '=', name).where('team_id', '=', team.teamId).executeTakeFirstOrThrow();
    assert.match(mineRow.host_name ?? '', /^s-[0-9a-f]{24}$/);
    const theirs = await t.api('POST', '/v1/capsules', { auth: other.apiKey, body: { template: 'minimal', memory_mb: 256 } });
    assert.equal(theirs.status, 201, JSON.stringify(theirs.body));
    try {
      const snap = await t.api('POST', '/v1/snapshots', { auth: other.apiKey, body: { capsule_id: theirs.body.id, name } });
      assert.equal(snap.status, 201, `same name in another team: ${JSON.stringify(snap.body)}`);
      const theirRow = await t.cp.ctx.db.selectFrom('templates').select(['host_name']).where('name', '=', name).where('team_id', '=', other.teamId).executeTakeFirstOrThrow();
      assert.notEqual(theirRow.host_name, mineRow.host_name);
      // The host name of the first team's snapshot is not a name the other team can use.
      const byHostName = await t.api('POST', '/v1/capsules', { auth: other.apiKey, body: { template: mineRow.host_name } });
      assert.equal(byHostName.status, 404, JSON.stringify(byHostName.body));
      assert.equal((await t.api('DELETE', `/v1/snapshots/${name}`, { auth: other.apiKey })).status, 204);
      // The first team's snapshot is untouched by the other team's delete.
      const list = await t.api('GET', '/v1/snapshots?type=snapshot', { auth: team.apiKey });
      assert.ok(list.body.some((x: { name: string }) => x.name === name));
    } finally {
      await t.api('DELETE', `/v1/capsules/${theirs.body.id}`, { auth: other.apiKey });
    }
  });

  test('bad input: unknown capsule 404, bad name 400, another team\'s capsule 404', async () => {
    assert.equal((await t.api('POST', '/v1/snapshots', { auth: team.apiKey, body: { sandbox_id: 'cl-nope' } })).status, 404);
    assert.equal((await t.api('POST', '/v1/snapshots', { auth: team.apiKey, body: { sandbox_id: source, name: 'Bad Name!' } })).status, 400);
    assert.equal((await t.api('POST', '/v1/snapshots', { auth: other.apiKey, body: { capsule_id: source } })).status, 404);
  });

  test('DELETE /v1/snapshots/{name} removes it; deleting again is 404', async () => {
    const del = await t.api('DELETE', `/v1/snapshots/${name}`, { auth: team.apiKey });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    const list = await t.api('GET', '/v1/snapshots?type=snapshot', { auth: team.apiKey });
    assert.ok(!list.body.some((s: { name: string }) => s.name === name));
    assert.equal((await t.api('DELETE', `/v1/snapshots/${name}`, { auth: team.apiKey })).status, 404);
  });
});

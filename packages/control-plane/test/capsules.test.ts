/**
 * The capsule lifecycle through the REST API, against a real control plane, a real host
 * agent and real capsules: create (defaults, validation, unknown template, capacity),
 * list/get, team isolation on every route, ping, pause/resume, destroy (idempotent, then
 * `stopped`), the status machine's 409s, and an unreachable agent.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import { sql } from 'kysely';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

/** A 127.0.0.1 port nothing listens on. */
async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

describe('capsules API: lifecycle', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let other: SeededTeam;
  /** One running capsule most tests share. */
  let id: string;
  const created: string[] = [];

  const create = async (body: Record<string, unknown> = {}, auth = team.apiKey) => {
    const r = await t.api('POST', '/v1/capsules', { auth, body });
    if (r.body?.id) created.push(r.body.id);
    return r;
  };

  before(async () => {
    t = await startControlPlane({ withAgent: true });
    team = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
    const r = await create({ metadata: { owner: 'tests' }, envs: { GREETING: 'hello' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    id = r.body.id;
  });

  after(async () => {
    for (const c of created) await t?.api('DELETE', `/v1/capsules/${c}`, { auth: team.apiKey }).catch(() => {});
    await t?.close();
  });

  test('create answers 201 with the running capsule, defaults applied, no envd token', async () => {
    const r = await t.api('GET', `/v1/capsules/${id}`, { auth: team.apiKey });
    assert.equal(r.status, 200);
    const c = r.body;
    assert.match(c.id, /^cl-[a-z0-9]{16}$/);
    assert.equal(c.status, 'running');
    assert.equal(c.template, 'minimal');
    assert.equal(c.vcpus, 1);
    assert.equal(c.memory_mb, 512);
    assert.equal(c.timeout_sec, 0);
    assert.equal(c.auto_resume, false);
    assert.ok(c.disk_size_mb > 0, 'the disk size the host gave');
    assert.equal(c.host_id, t.hostId);
    assert.match(c.address, /^\d+\.\d+\.\d+\.\d+$/);
    assert.deepEqual(c.metadata, { owner: 'tests' });
    assert.match(c.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    assert.equal(c.stopped_at, null);
    assert.ok(!JSON.stringify(c).includes('envd'), 'no envd token in the capsule JSON');
  });

  test('the envs given at create are set for commands in the capsule', async () => {
    const r = await t.api('POST', `/v1/capsules/${id}/exec`, { auth: team.apiKey, body: { cmd: '/bin/sh', args: ['-c', 'echo $GREETING'] } });
    assert.equal(r.status, 200);
    assert.equal(r.body.stdout, 'hello\n');
  });

  test('create refuses bad input with 400 invalid_argument naming the field', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ vcpus: 0 }, /vcpus/],
      [{ vcpus: 17 }, /vcpus/],
      [{ memory_mb: 64 }, /memory_mb/],
      [{ memory_mb: 100_000 }, /memory_mb/],
      [{ memory_mb: 512.5 }, /memory_mb/],
      [{ disk_size_mb: 2_000_000 }, /disk_size_mb/],
      [{ timeout_sec: -1 }, /timeout_sec/],
      [{ template: 'bad name!' }, /template/],
      [{ metadata: { a: { nested: true } } }, /metadata/],
      [{ envs: 'A=1' }, /envs/],
      [{ surprise: true }, /surprise|additional/],
    ];
    const before = await t.cp.ctx.db.selectFrom('capsules').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    for (const [body, field] of cases) {
      const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.reason, 'invalid_argument');
      assert.equal(r.body.error.code, 'invalid_request');
      assert.match(r.body.error.message, field, JSON.stringify(body));
    }
    const after = await t.cp.ctx.db.selectFrom('capsules').select((eb) => eb.fn.countAll<string>().as('n')).executeTakeFirstOrThrow();
    assert.equal(after.n, before.n, 'no capsule row for refused input');
  });

  test('an unknown template is 404 template_not_found; the capsule is listed as error with the reason', async () => {
    const r = await create({ template: 'no-such-template' });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.reason, 'template_not_found');
    assert.equal(r.body.error.code, 'not_found');
    assert.match(r.body.error.message, /no-such-template/);
    const list = await t.api('GET', '/v1/capsules?status=error', { auth: team.apiKey });
    const failed = list.body.find((c: { template: string }) => c.template === 'no-such-template');
    assert.ok(failed, JSON.stringify(list.body));
    assert.match(failed.error, /no-such-template/);
  });

  test('memory above what the host has is 503 host_at_capacity saying what to change (host details are for administrators)', async () => {
    // The scheduler works from what the host registered: register it as a 1 GiB machine.
    const real = await t.cp.ctx.db.selectFrom('hosts').select('memory_total_bytes').where('id', '=', t.hostId!).executeTakeFirstOrThrow();
    await t.cp.ctx.db.updateTable('hosts').set({ memory_total_bytes: String(1024 ** 3) }).where('id', '=', t.hostId!).execute();
    try {
      const r = await create({ memory_mb: 4096 });
      assert.equal(r.status, 503);
      assert.equal(r.body.error.reason, 'host_at_capacity');
      assert.equal(r.body.error.code, 'host_unavailable');
      assert.match(r.body.error.message, /less memory/);
      assert.doesNotMatch(r.body.error.message, /MB of memory left|host-/);
    } finally {
      await t.cp.ctx.db.updateTable('hosts').set({ memory_total_bytes: real.memory_total_bytes }).where('id', '=', t.hostId!).execute();
    }
  });

  test("list shows the team's capsules newest first, filters by status, and never another team's", async () => {
    const second = await create({ vcpus: 0.5, memory_mb: 256 });
    assert.equal(second.status, 201);
    const all = await t.api('GET', '/v1/capsules', { auth: team.jwt });
    assert.equal(all.status, 200);
    const ids = all.body.map((c: { id: string }) => c.id);
    assert.ok(ids.indexOf(second.body.id) < ids.indexOf(id), 'newest first');
    const times = all.body.map((c: { created_at: string }) => Date.parse(c.created_at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a));
    const running = await t.api('GET', '/v1/capsules?status=running,paused', { auth: team.apiKey });
    assert.ok(running.body.length >= 2);
    assert.ok(running.body.every((c: { status: string }) => c.status === 'running' || c.status === 'paused'));
    const theirs = await t.api('GET', '/v1/capsules', { auth: other.apiKey });
    assert.deepEqual(theirs.body, []);
    const bad = await t.api('GET', '/v1/capsules?status=sleeping', { auth: team.apiKey });
    assert.equal(bad.status, 400);
    assert.match(bad.body.error.message, /sleeping/);
  });

  test('calls without credentials are 401', async () => {
    const r = await t.api('GET', `/v1/capsules/${id}`);
    assert.equal(r.status, 401);
    assert.equal(r.body.error.reason, 'unauthenticated');
    assert.equal(r.body.error.code, 'unauthorized');
  });

  test("another team's capsule is 404 capsule_not_found on every route, and is left untouched", async () => {
    const routes: Array<[string, string, unknown?]> = [
      ['GET', ''],
      ['DELETE', ''],
      ['POST', '/ping'],
      ['POST', '/pause'],
      ['POST', '/resume'],
      ['POST', '/exec', { cmd: 'true' }],
      ['POST', '/exec', { cmd: 'sleep', args: ['30'], background: true }],
      ['GET', '/processes'],
      ['DELETE', '/processes/1'],
      ['DELETE', '/processes/some-tag'],
      ['GET', '/metrics'],
      ['POST', '/files/list', { path: '/' }],
    ];
    for (const [method, suffix, body] of routes) {
      const r = await t.api(method, `/v1/capsules/${id}${suffix}`, { auth: other.jwt, body });
      assert.equal(r.status, 404, `${method} ${suffix}`);
      assert.equal(r.body.error.reason, 'capsule_not_found', `${method} ${suffix}`);
      assert.equal(r.body.error.code, 'not_found', `${method} ${suffix}`);
    }
    const mine = await t.api('GET', `/v1/capsules/${id}`, { auth: team.apiKey });
    assert.equal(mine.body.status, 'running');
  });

  test('an unknown capsule id is 404 on get, delete, ping and exec', async () => {
    for (const [method, suffix, body] of [['GET', ''], ['DELETE', ''], ['POST', '/ping'], ['POST', '/exec', { cmd: 'true' }]] as const) {
      const r = await t.api(method, `/v1/capsules/cl-0000000000000000${suffix}`, { auth: team.apiKey, body });
      assert.equal(r.status, 404, `${method} ${suffix}`);
      assert.equal(r.body.error.reason, 'capsule_not_found');
      assert.equal(r.body.error.code, 'not_found');
    }
  });

  test('ping answers running/healthy and resets the inactivity timer', async () => {
    await t.cp.ctx.db.updateTable('capsules').set({ last_activity_at: sql`now() - interval '1 hour'` as never }).where('id', '=', id).execute();
    const r = await t.api('POST', `/v1/capsules/${id}/ping`, { auth: team.apiKey });
    assert.equal(r.status, 200);
    assert.deepEqual(r.body, { status: 'running', healthy: true });
    const row = await t.cp.ctx.db.selectFrom('capsules').select('last_activity_at').where('id', '=', id).executeTakeFirstOrThrow();
    assert.ok(Date.now() - new Date(row.last_activity_at).getTime() < 60_000);
  });

  test('pause → paused (exec then 409 naming the state), pause again is a no-op, resume → running and usable', async () => {
    const p = await t.api('POST', `/v1/capsules/${id}/pause`, { auth: team.apiKey });
    assert.equal(p.status, 200, JSON.stringify(p.body));
    assert.equal(p.body.status, 'paused');
    assert.equal(p.body.id, id);
    const exec = await t.api('POST', `/v1/capsules/${id}/exec`, { auth: team.apiKey, body: { cmd: 'true' } });
    assert.equal(exec.status, 409);
    assert.equal(exec.body.error.reason, 'capsule_busy');
    assert.equal(exec.body.error.code, 'invalid_state');
    assert.match(exec.body.error.message, /paused/);
    const again = await t.api('POST', `/v1/capsules/${id}/pause`, { auth: team.apiKey });
    assert.equal(again.status, 200);
    assert.equal(again.body.status, 'paused');
    const r = await t.api('POST', `/v1/capsules/${id}/resume`, { auth: team.apiKey });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'running');
    const after = await t.api('POST', `/v1/capsules/${id}/exec`, { auth: team.apiKey, body: { cmd: '/bin/echo', args: ['back'] } });
    assert.equal(after.status, 200);
    assert.equal(after.body.stdout, 'back\n');
    const resumeRunning = await t.api('POST', `/v1/capsules/${id}/resume`, { auth: team.apiKey });
    assert.equal(resumeRunning.status, 200);
    assert.equal(resumeRunning.body.status, 'running');
  });

  test('a paused capsule created with auto_resume is resumed by the next exec', async () => {
    const c = await create({ auto_resume: true, memory_mb: 256 });
    assert.equal(c.status, 201);
    assert.equal(c.body.auto_resume, true);
    const p = await t.api('POST', `/v1/capsules/${c.body.id}/pause`, { auth: team.apiKey });
    assert.equal(p.body.status, 'paused');
    const exec = await t.api('POST', `/v1/capsules/${c.body.id}/exec`, { auth: team.apiKey, body: { cmd: '/bin/echo', args: ['awake'] } });
    assert.equal(exec.status, 200, JSON.stringify(exec.body));
    assert.equal(exec.body.stdout, 'awake\n');
    const got = await t.api('GET', `/v1/capsules/${c.body.id}`, { auth: team.apiKey });
    assert.equal(got.body.status, 'running');
  });

  test('an unreachable agent gives 503 unavailable at once, and the capsule stays as it was', async () => {
    const real = await t.cp.ctx.db.selectFrom('hosts').select('agent_url').where('id', '=', t.hostId!).executeTakeFirstOrThrow();
    await t.cp.ctx.db.updateTable('hosts').set({ agent_url: `http://127.0.0.1:${await closedPort()}` }).where('id', '=', t.hostId!).execute();
    // Changed behind the control plane's back: drop what it remembers of usable capsules
    // (a real address change comes through registration or a heartbeat, which do this).
    t.cp.ctx.usable.forget();
    try {
      for (const [method, suffix, body] of [['POST', '/exec', { cmd: 'true' }], ['POST', '/ping'], ['DELETE', ''], ['POST', '/files/list', { path: '/' }]] as const) {
        const started = Date.now();
        const r = await t.api(method, `/v1/capsules/${id}${suffix}`, { auth: team.apiKey, body });
        assert.equal(r.status, 503, `${method} ${suffix}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.reason, 'unavailable');
        assert.equal(r.body.error.code, 'host_unavailable');
        assert.ok(Date.now() - started < 5000, `${method} ${suffix} took ${Date.now() - started} ms`);
      }
      const still = await t.api('GET', `/v1/capsules/${id}`, { auth: team.apiKey });
      assert.equal(still.body.status, 'running', 'a failed destroy leaves the capsule running');
      const started = Date.now();
      const c = await create({ memory_mb: 256 });
      assert.equal(c.status, 503);
      assert.equal(c.body.error.reason, 'unavailable');
      assert.equal(c.body.error.code, 'host_unavailable');
      assert.ok(Date.now() - started < 5000);
      const rows = await t.cp.ctx.db.selectFrom('capsules').select(['status', 'error']).where('team_id', '=', team.teamId).orderBy('created_at', 'desc').limit(1).execute();
      assert.equal(rows[0]?.status, 'error');
      const host = await t.cp.ctx.db.selectFrom('hosts').select(['suspect_at']).where('id', '=', t.hostId!).executeTakeFirstOrThrow();
      assert.ok(host.suspect_at, 'the host that refused the connection is suspect until its next heartbeat');
    } finally {
      // Back at its address, with the heartbeat that clears the suspicion (the harness's
      // agent is registered directly and sends none).
      await t.cp.ctx.db.updateTable('hosts').set({ agent_url: real.agent_url, last_heartbeat_at: sql`now() + interval '1 second'` as never }).where('id', '=', t.hostId!).execute();
      t.cp.ctx.usable.forget();
    }
    const ok = await t.api('POST', `/v1/capsules/${id}/exec`, { auth: team.apiKey, body: { cmd: 'true' } });
    assert.equal(ok.status, 200, 'usable again once the agent is reachable');
  });

  test('destroy answers 204; GET then shows stopped with stopped_at; destroy again is 204', async () => {
    const c = await create({ memory_mb: 256 });
    assert.equal(c.status, 201);
    const d = await t.api('DELETE', `/v1/capsules/${c.body.id}`, { auth: team.apiKey });
    assert.equal(d.status, 204);
    const got = await t.api('GET', `/v1/capsules/${c.body.id}`, { auth: team.apiKey });
    assert.equal(got.status, 200);
    assert.equal(got.body.status, 'stopped');
    assert.match(got.body.stopped_at, /Z$/);
    assert.equal(got.body.address, null);
    const again = await t.api('DELETE', `/v1/capsules/${c.body.id}`, { auth: team.apiKey });
    assert.equal(again.status, 204);
    const listed = await t.api('GET', '/v1/capsules?status=stopped', { auth: team.apiKey });
    assert.ok(listed.body.some((x: { id: string }) => x.id === c.body.id), 'recently stopped capsules are listed');
    const onHost = await t.agent!.client.list({});
    assert.ok(!onHost.capsules.some((x) => x.id === c.body.id), 'gone from the host');
  });

  test('operations on a stopped capsule are 409 capsule_busy naming the state', async () => {
    const c = await create({ memory_mb: 256 });
    await t.api('DELETE', `/v1/capsules/${c.body.id}`, { auth: team.apiKey });
    for (const [method, suffix, body] of [['POST', '/exec', { cmd: 'true' }], ['POST', '/pause'], ['POST', '/resume'], ['POST', '/ping'], ['GET', '/processes'], ['GET', '/metrics'], ['POST', '/files/read', { path: '/etc/hostname' }]] as const) {
      const r = await t.api(method, `/v1/capsules/${c.body.id}${suffix}`, { auth: team.apiKey, body });
      assert.equal(r.status, 409, `${method} ${suffix}`);
      assert.equal(r.body.error.reason, 'capsule_busy');
      assert.equal(r.body.error.code, 'invalid_state');
      assert.match(r.body.error.message, /stopped/);
    }
  });

  test('the OpenAPI document lists the capsule routes under the capsules tag', async () => {
    const doc = await t.api('GET', '/openapi.json');
    for (const path of ['/v1/capsules', '/v1/capsules/{id}', '/v1/capsules/{id}/exec', '/v1/capsules/{id}/files/stream/write', '/v1/capsules/stats', '/v1/capsules/usage']) {
      assert.ok(doc.body.paths[path], path);
    }
    assert.deepEqual(doc.body.paths['/v1/capsules'].post.tags, ['capsules']);
  });
});

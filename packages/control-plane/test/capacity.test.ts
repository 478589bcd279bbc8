/**
 * Capacity accounting in placement (database only: no agent is contacted): granted disk
 * sizes per host are bounded by its free disk × WRENN_DISK_OVERCOMMIT, paused capsules'
 * disks included; the CPU and memory overcommit ratios are configuration whose defaults
 * pack 500 idle 0.25 vCPU / 128 MB capsules on a 2-core, 24 GB host; per-team quotas
 * refuse a create with 429 naming the limit.
 */
import { test, describe, before, after, beforeEach } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { WrennError } from '@wrenn/shared';
import { newId } from '../src/domain/ids.js';
import { Scheduler } from '../src/domain/scheduler.js';
import type { CapsuleStatus } from '../src/db/schema.js';
import { loadControlPlaneConfig } from '../src/start/config.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

const GB = 1024 ** 3;

describe('capacity accounting', () => {
  let t: TestControlPlane;
  let team: SeededTeam;

  async function fakeHost(cores: number, memGb: number, diskFreeGb: number): Promise<string> {
    const id = newId('host');
    await t.cp.ctx.db
      .insertInto('hosts')
      .values({ id, name: id, status: 'up', vcpus_total: cores, memory_total_bytes: String(memGb * GB), memory_free_bytes: String(memGb * GB), disk_free_bytes: String(diskFreeGb * GB), last_heartbeat_at: new Date() })
      .execute();
    return id;
  }

  async function capsuleRows(hostId: string | null, n: number, shape: { vcpus: number; memoryMb: number; diskMb: number; status: CapsuleStatus }, teamId = team.teamId): Promise<void> {
    const rows = Array.from({ length: n }, () => ({
      id: newId('cl'),
      team_id: teamId,
      host_id: hostId,
      template: 'minimal',
      status: shape.status,
      vcpus: shape.vcpus,
      memory_mb: shape.memoryMb,
      disk_size_mb: shape.diskMb,
      timeout_sec: 0,
      metadata: JSON.stringify({}),
      address: null,
      envd_token: null,
      error: null,
      created_by_user: null,
      created_by_key: null,
    }));
    for (let i = 0; i < rows.length; i += 200) await t.cp.ctx.db.insertInto('capsules').values(rows.slice(i, i + 200)).execute();
  }

  before(async () => {
    t = await startControlPlane();
    team = await seedTeam(t.cp);
  });
  after(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await t.cp.ctx.db.deleteFrom('capsules').execute();
    await t.cp.ctx.db.deleteFrom('hosts').execute();
  });

  test('granted disk is counted: a second 60 GB capsule does not fit in 77 GB free, a 10 GB one does', async () => {
    const host = await fakeHost(8, 64, 77);
    await capsuleRows(host, 1, { vcpus: 1, memoryMb: 512, diskMb: 60 * 1024, status: 'running' });
    await assert.rejects(t.cp.ctx.scheduler.pick({ vcpus: 1, memoryMb: 512, diskSizeMb: 60 * 1024 }), (err: WrennError) => err.code === 'host_at_capacity' && /MB of disk left to grant/.test(err.message));
    assert.equal((await t.cp.ctx.scheduler.pick({ vcpus: 1, memoryMb: 512, diskSizeMb: 10 * 1024 })).id, host);
  });

  test('a paused capsule keeps its disk granted; a stopped one does not', async () => {
    const host = await fakeHost(8, 64, 77);
    await capsuleRows(host, 1, { vcpus: 1, memoryMb: 512, diskMb: 60 * 1024, status: 'paused' });
    await assert.rejects(t.cp.ctx.scheduler.pick({ vcpus: 1, memoryMb: 512, diskSizeMb: 60 * 1024 }), /disk left to grant/);
    await t.cp.ctx.db.updateTable('capsules').set({ status: 'stopped' }).execute();
    assert.equal((await t.cp.ctx.scheduler.pick({ vcpus: 1, memoryMb: 512, diskSizeMb: 60 * 1024 })).id, host);
  });

  test('WRENN_DISK_OVERCOMMIT lets granted disk pass free disk by its ratio', async () => {
    const host = await fakeHost(8, 64, 77);
    await capsuleRows(host, 1, { vcpus: 1, memoryMb: 512, diskMb: 60 * 1024, status: 'running' });
    const generous = new Scheduler(t.cp.ctx.db, { cpu: 64, memory: 3, disk: 2 });
    assert.equal((await generous.pick({ vcpus: 1, memoryMb: 512, diskSizeMb: 60 * 1024 })).id, host);
  });

  test('default ratios: a 2-core, 24 GB host with 500 idle 0.25 vCPU / 128 MB capsules takes one more; the old constants (8× CPU, 2× memory) refused the 65th', async () => {
    const host = await fakeHost(2, 24, 500);
    const small = { vcpus: 0.25, memoryMb: 128, diskSizeMb: 0 };
    await capsuleRows(host, 64, { vcpus: 0.25, memoryMb: 128, diskMb: 0, status: 'running' });
    const old = new Scheduler(t.cp.ctx.db, { cpu: 8, memory: 2, disk: 1 });
    await assert.rejects(old.pick(small), /vCPUs left to commit/);
    await capsuleRows(host, 500 - 64, { vcpus: 0.25, memoryMb: 128, diskMb: 0, status: 'running' });
    assert.equal((await t.cp.ctx.scheduler.pick(small)).id, host);
  });

  test("a running build's capsule counts on its host: its vCPUs and memory are not promised twice", async () => {
    const host = await fakeHost(2, 1, 500); // 1 GB × memory overcommit 3 = 3072 MB to commit
    const roomy = { vcpus: 1, memoryMb: 2048, diskSizeMb: 0 };
    assert.equal((await t.cp.ctx.scheduler.pick(roomy)).id, host);
    const build = newId('bld');
    await t.cp.ctx.db
      .insertInto('builds')
      .values({ id: build, team_id: team.teamId, name: `cap-${build}`, status: 'running', host_id: host, heartbeat_at: new Date(), spec: JSON.stringify({ recipe: ['RUN true'], vcpus: 1, memory_mb: 2048, skip_pre_post: true }), logs: JSON.stringify([]), base_template: 'minimal', default_env: JSON.stringify({}) })
      .execute();
    try {
      await assert.rejects(t.cp.ctx.scheduler.pick(roomy), (err: WrennError) => err.code === 'host_at_capacity' && /1024 MB of memory left/.test(err.message));
      const [load] = await t.cp.ctx.scheduler.loads();
      assert.equal(load!.committedVcpus, 1);
      // A finished build holds nothing.
      await t.cp.ctx.db.updateTable('builds').set({ status: 'success' }).where('id', '=', build).execute();
      assert.equal((await t.cp.ctx.scheduler.pick(roomy)).id, host);
    } finally {
      await t.cp.ctx.db.deleteFrom('builds').where('id', '=', build).execute();
    }
  });

  test("a build is refused, not left pending, when the only host is another team's BYOC host", async () => {
    const other = await seedTeam(t.cp);
    const host = await fakeHost(8, 64, 500);
    await t.cp.ctx.db.updateTable('hosts').set({ type: 'byoc', team_id: other.teamId }).where('id', '=', host).execute();
    const created = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: `byoc-${randomUUID().slice(0, 8)}`, recipe: ['RUN true'], skip_pre_post: true } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = (created.body as { id: string }).id;
    let b: { status: string; error?: string | null } = { status: 'pending' };
    for (let i = 0; i < 100 && b.status === 'pending'; i++) {
      t.cp.ctx.builds.wake();
      await new Promise((r) => setTimeout(r, 100));
      b = (await t.api('GET', `/v1/builds/${id}`, { auth: team.apiKey })).body as typeof b;
    }
    assert.equal(b.status, 'failed');
    assert.match(b.error ?? '', /BYOC hosts of another team/);
    // The owning team's build is not refused for that reason: it is placed on its own host
    // (the fake host has no agent, so it then fails there, which is not this test's concern).
    const byOwner = await t.api('POST', '/v1/builds', { auth: other.apiKey, body: { name: `byoc-own-${randomUUID().slice(0, 8)}`, recipe: ['RUN true'], skip_pre_post: true } });
    assert.equal(byOwner.status, 201, JSON.stringify(byOwner.body));
    const ownId = (byOwner.body as { id: string }).id;
    let own: { status: string; host_id?: string | null; error?: string | null } = { status: 'pending' };
    for (let i = 0; i < 100 && own.status === 'pending'; i++) {
      t.cp.ctx.builds.wake();
      await new Promise((r) => setTimeout(r, 100));
      own = (await t.api('GET', `/v1/builds/${ownId}`, { auth: other.apiKey })).body as typeof own;
    }
    assert.notEqual(own.status, 'pending');
    assert.doesNotMatch(own.error ?? '', /BYOC/);
    const row = await t.cp.ctx.db.selectFrom('builds').select('host_id').where('id', '=', ownId).executeTakeFirstOrThrow();
    assert.equal(row.host_id, host);
    await t.cp.ctx.db.deleteFrom('builds').execute();
  });

  test('overcommit and quota configuration: defaults, and bad values name the variable', () => {
    const base = { WRENN_JWT_SECRET: 'x'.repeat(32), WRENN_DATA_DIR: '/nonexistent' };
    const c = loadControlPlaneConfig(base);
    assert.deepEqual(c.overcommit, { cpu: 64, memory: 3, disk: 1 });
    assert.deepEqual(c.teamQuota, { capsules: 0, vcpus: 0, memoryMb: 0, diskMb: 0 });
    assert.equal(loadControlPlaneConfig({ ...base, WRENN_DISK_OVERCOMMIT: '1.5' }).overcommit.disk, 1.5);
    assert.throws(() => loadControlPlaneConfig({ ...base, WRENN_CPU_OVERCOMMIT: '0' }), /WRENN_CPU_OVERCOMMIT/);
    assert.throws(() => loadControlPlaneConfig({ ...base, WRENN_TEAM_MAX_CAPSULES: '-1' }), /WRENN_TEAM_MAX_CAPSULES/);
  });
});

describe('per-team quotas', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let other: SeededTeam;

  before(async () => {
    t = await startControlPlane({ env: { WRENN_TEAM_MAX_CAPSULES: '2', WRENN_TEAM_MAX_VCPUS: '3', WRENN_TEAM_MAX_MEMORY_MB: '4096', WRENN_TEAM_MAX_DISK_MB: '10240' } });
    team = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
  });
  after(async () => {
    await t?.close();
  });
  beforeEach(async () => {
    await t.cp.ctx.db.deleteFrom('capsules').execute();
  });

  async function held(teamId: string, n: number, vcpus: number, memoryMb: number, diskMb: number, status: CapsuleStatus = 'running'): Promise<void> {
    for (let i = 0; i < n; i++) {
      await t.cp.ctx.db
        .insertInto('capsules')
        .values({ id: newId('cl'), team_id: teamId, host_id: null, template: 'minimal', status, vcpus, memory_mb: memoryMb, disk_size_mb: diskMb, timeout_sec: 0, metadata: JSON.stringify({}), address: null, envd_token: null, error: null, created_by_user: null, created_by_key: null })
        .execute();
    }
  }

  function assertQuota(r: { status: number; body: any }, limit: string, variable: RegExp): void {
    assert.equal(r.status, 429, JSON.stringify(r.body));
    assert.equal(r.body.error.reason, 'resource_exhausted');
    assert.equal(r.body.error.code, 'invalid_request');
    assert.equal(r.body.error.details.limit, limit);
    assert.match(r.body.error.message, variable);
  }

  test('capsules: the third is refused naming WRENN_TEAM_MAX_CAPSULES; a paused one counts, a stopped one does not; other teams are not affected', async () => {
    await held(team.teamId, 1, 0.5, 256, 0);
    await held(team.teamId, 1, 0.5, 256, 0, 'paused');
    await held(team.teamId, 3, 0.5, 256, 0, 'stopped');
    assertQuota(await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { vcpus: 0.5, memory_mb: 256 } }), 'capsules', /WRENN_TEAM_MAX_CAPSULES=2/);
    // The other team is within its quota: it goes on to placement (no host here: 503).
    assert.equal((await t.api('POST', '/v1/capsules', { auth: other.apiKey, body: { vcpus: 0.5, memory_mb: 256 } })).status, 503);
  });

  test('vCPUs, memory and disk of what the team holds', async () => {
    await held(team.teamId, 1, 2, 3072, 8192);
    assertQuota(await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { vcpus: 2, memory_mb: 512 } }), 'vcpus', /WRENN_TEAM_MAX_VCPUS=3/);
    assertQuota(await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { vcpus: 1, memory_mb: 2048 } }), 'memory_mb', /WRENN_TEAM_MAX_MEMORY_MB=4096 MB/);
    assertQuota(await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { vcpus: 1, memory_mb: 512, disk_size_mb: 4096 } }), 'disk_size_mb', /WRENN_TEAM_MAX_DISK_MB/);
    // Within every limit: on to placement.
    assert.equal((await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { vcpus: 1, memory_mb: 512, disk_size_mb: 1024 } })).status, 503);
  });
});

import { test, describe, before, beforeEach, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createServer, connect, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WrennError } from '@wrenn/shared';
import { applyRegisterFlags, ControlPlaneLink, loadAgentConfig } from '@wrenn/host-agent';
import { sharedTemplates, startTestAgent, type TestAgent } from '@wrenn/host-agent/testing';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';
import { capsuleRow, createHostViaApi, createOnAgent, hostRow, insertCapsuleRow, linkFor, waitFor } from './host-fixtures.js';
import { newId } from '../src/domain/ids.js';
import { sha256Hex } from '../src/infra/secrets.js';

async function registerBody(ta: TestAgent, token: string, agentUrl = `http://127.0.0.1:${ta.agent.port}`) {
  const health = await ta.client.health({});
  return {
    token,
    agent_url: agentUrl,
    agent_token: ta.agent.token,
    version: health.version,
    vcpus_total: health.vcpusTotal,
    memory_total_bytes: Number(health.memoryTotalBytes),
    memory_free_bytes: Number(health.memoryFreeBytes),
    disk_free_bytes: Number(health.diskFreeBytes),
  };
}

const heartbeat = { capsules: 0, memory_free_bytes: 1 << 30, disk_free_bytes: 1 << 30 };

describe('hosts: registration, heartbeats, liveness', () => {
  let t: TestControlPlane;
  let ta: TestAgent;
  let admin: SeededTeam;
  let member: SeededTeam;
  let link: ControlPlaneLink | undefined;
  let linkedHostId: string;
  /** A second host registered by hand (not by a link), with its session. */
  let manual: { hostId: string; access: string; refresh: string } | undefined;

  before(async () => {
    await sharedTemplates();
    // The liveness worker runs (1 s); the reconciler is driven by test/reconciler.test.ts.
    t = await startControlPlane({ disableWorkers: ['reconciler'], env: { WRENN_HOST_DOWN_AFTER_SEC: '1' } });
    ta = await startTestAgent();
    admin = await seedTeam(t.cp, { isAdmin: true });
    member = await seedTeam(t.cp, { role: 'owner' });
  });
  after(async () => {
    await link?.close();
    await ta?.close();
    await t?.close();
  });

  test('creating a host needs an administrator user token', async () => {
    assert.equal((await t.api('POST', '/v1/hosts', { body: { name: 'h' } })).status, 401);
    const owner = await t.api('POST', '/v1/hosts', { auth: member.jwt, body: { name: 'h' } });
    assert.equal(owner.status, 403);
    assert.equal(owner.body.error.reason, 'permission_denied');
    assert.equal(owner.body.error.code, 'forbidden');
    assert.equal((await t.api('POST', '/v1/hosts', { auth: admin.apiKey, body: { name: 'h' } })).status, 403);
    assert.equal((await t.api('POST', '/v1/hosts', { auth: admin.jwt, body: { name: 'h', extra: 1 } })).status, 400);
  });

  test('a new host is pending and its one-time registration token is stored only as a SHA-256 hash', async () => {
    const r = await t.api('POST', '/api/v1/hosts', { auth: admin.jwt, body: { name: 'rack-1' } });
    assert.equal(r.status, 201);
    assert.equal(r.body.host.status, 'pending');
    assert.equal(r.body.host.name, 'rack-1');
    assert.match(r.body.host.id, /^host-/);
    const token: string = r.body.registration_token;
    const rows = await t.cp.ctx.db.selectFrom('host_tokens').selectAll().where('host_id', '=', r.body.host.id).execute();
    assert.equal(rows.length, 1);
    assert.equal(rows[0]!.kind, 'registration');
    assert.equal(rows[0]!.token_hash, sha256Hex(token));
    assert.ok(!JSON.stringify(rows).includes(token));
    const ttlH = (rows[0]!.expires_at.getTime() - Date.now()) / 3_600_000;
    assert.ok(ttlH > 23.9 && ttlH <= 24, `expires in ${ttlH} h`);
  });

  test('an agent registers with its token: the host is up with its address, token and capacity, credentials saved 0600', async () => {
    const { hostId, token } = await createHostViaApi(t, admin.jwt, 'linked');
    linkedHostId = hostId;
    link = linkFor(t, ta, { registerToken: token }).start();
    assert.equal(await link.registered(), hostId);
    const health = await ta.client.health({});
    const row = await waitFor('first heartbeat', async () => {
      const h = await hostRow(t, hostId);
      return h.status === 'up' && h.last_heartbeat_at ? h : undefined;
    });
    assert.equal(row.agent_url, `http://127.0.0.1:${ta.agent.port}`);
    assert.equal(row.agent_token, ta.agent.token);
    assert.equal(row.vcpus_total, health.vcpusTotal);
    assert.equal(Number(row.memory_total_bytes), Number(health.memoryTotalBytes));
    assert.ok(Number(row.disk_free_bytes) > 0);
    const credsPath = ControlPlaneLink.credentialsPath(ta.dataDir);
    assert.equal(statSync(credsPath).mode & 0o777, 0o600);
    const saved = JSON.parse(readFileSync(credsPath, 'utf8'));
    assert.equal(saved.host_id, hostId);
    assert.match(saved.refresh_token, /^hrt_/);
    assert.equal(saved.access_token, undefined, 'the access token is not written to disk');
    const view = await t.api('GET', `/v1/hosts/${hostId}`, { auth: admin.jwt });
    assert.equal(view.status, 200);
    assert.equal(view.body.status, 'online');
    assert.equal(view.body.vcpus_total, health.vcpusTotal);
    assert.equal(view.body.cpu_cores, health.vcpusTotal);
    assert.equal(view.body.type, 'regular');
    assert.equal(view.body.address, '127.0.0.1');
    assert.equal(view.body.agent_token, undefined, 'the agent token is never shown');
  });

  test('heartbeats keep the host capacity and capsule count current', async () => {
    await t.cp.ctx.db.updateTable('hosts').set({ memory_free_bytes: '0', capsules: 99 }).where('id', '=', linkedHostId).execute();
    await waitFor('a heartbeat to correct the capacity', async () => {
      const h = await hostRow(t, linkedHostId);
      return Number(h.memory_free_bytes) > 0 && h.capsules === 0;
    });
    const id = await createOnAgent(ta);
    try {
      await waitFor('a heartbeat to count the new capsule', async () => (await hostRow(t, linkedHostId)).capsules === 1);
    } finally {
      await ta.client.destroy({ capsuleId: id });
    }
  });

  test("heartbeats carry the agent's start queue: wrenn_host_start_queue on /metrics", async () => {
    const line = (text: string, state: string) => new RegExp(`^wrenn_host_start_queue\\{host="${linkedHostId}",state="${state}"\\} (\\d+)$`, 'm').exec(text)?.[1];
    const metrics = await waitFor('a heartbeat with the start queue', async () => {
      const text = await (await fetch(`${t.url}/metrics`)).text();
      return line(text, 'waiting') !== undefined ? text : undefined;
    });
    assert.equal(line(metrics, 'waiting'), '0');
    assert.equal(line(metrics, 'active'), '0');
  });

  test('a registration token works once: using it again is 401', async () => {
    const { token } = await createHostViaApi(t, admin.jwt, 'once');
    assert.equal((await t.api('POST', '/v1/hosts/register', { body: await registerBody(ta, token) })).status, 200);
    const again = await t.api('POST', '/v1/hosts/register', { body: await registerBody(ta, token) });
    assert.equal(again.status, 401);
    assert.equal(again.body.error.reason, 'unauthenticated');
    assert.equal(again.body.error.code, 'unauthorized');
    assert.match(again.body.error.message, /already used/);
    const unknown = await t.api('POST', '/v1/hosts/register', { body: await registerBody(ta, 'hreg_nope') });
    assert.equal(unknown.status, 401);
  });

  test('registering with an address the control plane cannot reach is a 503 that does not spend the token', async () => {
    const { hostId, token } = await createHostViaApi(t, admin.jwt, 'manual');
    const bad = await t.api('POST', '/v1/hosts/register', { body: await registerBody(ta, token, 'http://127.0.0.1:1') });
    assert.equal(bad.status, 503);
    assert.match(bad.body.error.message, /WRENN_AGENT_ADVERTISE_URL/);
    assert.equal((await hostRow(t, hostId)).status, 'pending');
    const good = await t.api('POST', '/v1/hosts/register', { body: await registerBody(ta, token) });
    assert.equal(good.status, 200);
    assert.equal(good.body.host_id, hostId);
    assert.equal(good.body.expires_in, 3600);
    manual = { hostId, access: good.body.access_token, refresh: good.body.refresh_token };
    const claims = await t.cp.ctx.jwt.verify(manual.access);
    assert.deepEqual({ kind: claims.kind, host: (claims as { host: string }).host }, { kind: 'host', host: hostId });
  });

  test('refresh rotates: the new refresh token works once more, the old one is 401', async () => {
    assert.ok(manual, 'needs the manually registered host');
    const first = await t.api('POST', '/v1/hosts/auth/refresh', { body: { refresh_token: manual.refresh } });
    assert.equal(first.status, 200);
    assert.notEqual(first.body.refresh_token, manual.refresh);
    assert.equal(first.body.host_id, manual.hostId);
    const reused = await t.api('POST', '/v1/hosts/auth/refresh', { body: { refresh_token: manual.refresh } });
    assert.equal(reused.status, 401);
    const second = await t.api('POST', '/v1/hosts/auth/refresh', { body: { refresh_token: first.body.refresh_token } });
    assert.equal(second.status, 200);
    const hb = await t.api('POST', `/v1/hosts/${manual.hostId}/heartbeat`, { auth: second.body.access_token, body: heartbeat });
    assert.equal(hb.status, 200);
    manual = { hostId: manual.hostId, access: second.body.access_token, refresh: second.body.refresh_token };
    const stored = await t.cp.ctx.db.selectFrom('host_tokens').select(['token_hash']).where('host_id', '=', manual.hostId).where('kind', '=', 'refresh').execute();
    assert.deepEqual(stored.map((r) => r.token_hash), [sha256Hex(manual.refresh)], 'spent refresh tokens are dropped');
  });

  test('a host may only heartbeat as itself', async () => {
    assert.ok(manual);
    const other = await t.api('POST', `/v1/hosts/${linkedHostId}/heartbeat`, { auth: manual.access, body: heartbeat });
    assert.equal(other.status, 403);
    assert.equal(other.body.error.reason, 'permission_denied');
    assert.equal(other.body.error.code, 'forbidden');
    assert.equal((await t.api('POST', `/v1/hosts/${manual.hostId}/heartbeat`, { auth: admin.jwt, body: heartbeat })).status, 403);
    assert.equal((await t.api('POST', `/v1/hosts/${manual.hostId}/heartbeat`, { auth: admin.apiKey, body: heartbeat })).status, 403);
    assert.equal((await t.api('POST', `/v1/hosts/${manual.hostId}/heartbeat`, { body: heartbeat })).status, 401);
  });

  test('heartbeat bodies are validated', async () => {
    assert.ok(manual);
    const unknown = await t.api('POST', `/v1/hosts/${manual.hostId}/heartbeat`, { auth: manual.access, body: { ...heartbeat, surprise: true } });
    assert.equal(unknown.status, 400);
    assert.equal(unknown.body.error.reason, 'invalid_argument');
    assert.equal(unknown.body.error.code, 'invalid_request');
    assert.equal((await t.api('POST', `/v1/hosts/${manual.hostId}/heartbeat`, { auth: manual.access, body: { ...heartbeat, disk_free_bytes: -1 } })).status, 400);
    assert.equal((await t.api('POST', `/v1/hosts/${manual.hostId}/heartbeat`, { auth: manual.access, body: { ...heartbeat, agent_url: 'ftp://x' } })).status, 400);
  });

  test('hosts are listed for administrators without their agent tokens; unknown ids are 404', async () => {
    const list = await t.api('GET', '/v1/hosts', { auth: admin.jwt });
    assert.equal(list.status, 200);
    const ids = list.body.map((h: { id: string }) => h.id);
    assert.ok(ids.includes(linkedHostId));
    assert.ok(!JSON.stringify(list.body).includes(ta.agent.token));
    const theirs = await t.api('GET', '/v1/hosts', { auth: member.jwt });
    assert.equal(theirs.status, 200);
    assert.deepEqual(theirs.body, [], 'a non-administrator sees only their team\'s BYOC hosts');
    assert.equal((await t.api('GET', `/v1/hosts/${linkedHostId}`, { auth: member.jwt })).status, 404);
    const missing = await t.api('GET', `/v1/hosts/${newId('host')}`, { auth: admin.jwt });
    assert.equal(missing.status, 404);
    assert.equal(missing.body.error.reason, 'not_found');
  });

  test('a host that stops heartbeating goes down and its capsules become missing; its restarted agent comes back up on saved credentials', async () => {
    assert.ok(link);
    const running = await insertCapsuleRow(t, admin, linkedHostId, 'running');
    const paused = await insertCapsuleRow(t, admin, linkedHostId, 'paused');
    const stopped = await insertCapsuleRow(t, admin, linkedHostId, 'stopped');
    try {
      const savedBefore = JSON.parse(readFileSync(ControlPlaneLink.credentialsPath(ta.dataDir), 'utf8'));
      await link.close();
      link = undefined;
      await waitFor('the host to be marked down', async () => (await hostRow(t, linkedHostId)).status === 'down', 5000);
      assert.equal((await capsuleRow(t, running)).status, 'missing');
      assert.equal((await capsuleRow(t, paused)).status, 'missing');
      assert.equal((await capsuleRow(t, stopped)).status, 'stopped');

      // A restart: no registration token this time, only what was saved.
      link = linkFor(t, ta).start();
      assert.equal(await link.registered(), linkedHostId);
      await waitFor('the host to be up again', async () => (await hostRow(t, linkedHostId)).status === 'up');
      const savedAfter = JSON.parse(readFileSync(ControlPlaneLink.credentialsPath(ta.dataDir), 'utf8'));
      assert.equal(savedAfter.host_id, linkedHostId);
      assert.notEqual(savedAfter.refresh_token, savedBefore.refresh_token, 'the refresh token rotated on restart');
      // Missing capsules wait for the reconciler (test/reconciler.test.ts).
      assert.equal((await capsuleRow(t, running)).status, 'missing');
    } finally {
      await t.cp.ctx.db.deleteFrom('capsules').where('id', 'in', [running, paused, stopped]).execute();
    }
  });

  test('a draining host stays draining through heartbeats and gets no new capsules; undrain lifts it', async () => {
    const drained = await t.api('POST', `/v1/hosts/${linkedHostId}/drain`, { auth: admin.jwt });
    assert.equal(drained.status, 200);
    assert.equal(drained.body.status, 'draining');
    const at = (await hostRow(t, linkedHostId)).last_heartbeat_at!.getTime();
    await waitFor('a heartbeat after the drain', async () => (await hostRow(t, linkedHostId)).last_heartbeat_at!.getTime() > at);
    assert.equal((await hostRow(t, linkedHostId)).status, 'draining');
    // Other hosts of this suite may still be up (timing): the drained one is never chosen,
    // and when it is the only candidate the 503 says it is draining.
    for (let i = 0; i < 5; i++) {
      const picked = await t.cp.ctx.scheduler.pick({ vcpus: 1, memoryMb: 256, diskSizeMb: 0 }).catch((err: WrennError) => {
        assert.equal(err.httpStatus, 503);
        assert.match(err.message, new RegExp(`${linkedHostId} is draining`));
        return undefined;
      });
      assert.notEqual(picked?.id, linkedHostId, 'a draining host was chosen');
    }
    // Asked for by id (as a snapshot template pins it): refused while draining, placed once undrained.
    // Unpinned, another host of the suite still up could win on free room.
    await assert.rejects(t.cp.ctx.scheduler.pick({ vcpus: 1, memoryMb: 256, diskSizeMb: 0, pinnedHostId: linkedHostId }), new RegExp(`${linkedHostId} is draining`));
    const undrained = await t.api('POST', `/v1/hosts/${linkedHostId}/undrain`, { auth: admin.jwt });
    assert.equal(undrained.body.status, 'online');
    assert.equal((await t.cp.ctx.scheduler.pick({ vcpus: 1, memoryMb: 256, diskSizeMb: 0, pinnedHostId: linkedHostId })).id, linkedHostId);
  });

  test('deleting a host with live capsules is a 409 unless forced, which marks them error and revokes the host', async () => {
    assert.ok(manual);
    const capsule = await insertCapsuleRow(t, admin, manual.hostId, 'running');
    const refused = await t.api('DELETE', `/v1/hosts/${manual.hostId}`, { auth: admin.jwt });
    assert.equal(refused.status, 409);
    assert.equal(refused.body.error.code, 'host_has_sandboxes', "the contract's code");
    assert.equal(refused.body.error.reason, 'host_has_capsules');
    assert.deepEqual(refused.body.error.capsule_ids, [capsule]);
    assert.deepEqual(refused.body.error.sandbox_ids, [capsule], 'the published schema names them sandbox_ids');
    assert.match(refused.body.error.message, /force=true/);
    assert.equal((await t.api('DELETE', `/v1/hosts/${manual.hostId}?force=true`, { auth: member.jwt })).status, 404);
    const forced = await t.api('DELETE', `/v1/hosts/${manual.hostId}?force=true`, { auth: admin.jwt });
    assert.equal(forced.status, 204);
    const row = await capsuleRow(t, capsule);
    assert.equal(row.status, 'error');
    assert.match(row.error ?? '', /was deleted/);
    assert.equal((await t.api('GET', `/v1/hosts/${manual.hostId}`, { auth: admin.jwt })).status, 404);
    assert.equal((await t.api('POST', `/v1/hosts/${manual.hostId}/heartbeat`, { auth: manual.access, body: heartbeat })).status, 401);
    assert.equal((await t.api('POST', '/v1/hosts/auth/refresh', { body: { refresh_token: manual.refresh } })).status, 401);
    assert.equal((await t.api('DELETE', `/v1/hosts/${manual.hostId}`, { auth: admin.jwt })).status, 404);
  });

  test('an agent whose control plane is unreachable keeps retrying and registers once it answers', async () => {
    const { hostId, token } = await createHostViaApi(t, admin.jwt, 'late');
    // A port nobody listens on yet; later a plain TCP relay to the control plane opens on it
    // (the control plane "comes up" at that address).
    const port = await freePort();
    const credsDir = mkdtempSync(join(tmpdir(), 'wrenn-link-'));
    const late = linkFor(t, ta, { registerToken: token, controlPlaneUrl: `http://127.0.0.1:${port}`, dataDir: credsDir }).start();
    let relay: Server | undefined;
    try {
      await new Promise((r) => setTimeout(r, 700));
      assert.equal(late.hostId, undefined);
      assert.equal((await hostRow(t, hostId)).status, 'pending');
      relay = await tcpRelay(port, t.port);
      assert.equal(await late.registered(), hostId);
      await waitFor('the late host to be up', async () => (await hostRow(t, hostId)).status === 'up');
    } finally {
      await late.close();
      relay?.close();
      rmSync(credsDir, { recursive: true, force: true });
    }
  });
});

describe('wrenn-agent registration flags', () => {
  test('--register and --control-plane (or their WRENN_ variables) configure the link; other arguments pass through', () => {
    const { args, env } = applyRegisterFlags(['--register', 'hreg_abc', '--control-plane=http://cp:8080', 'serve'], { WRENN_HEARTBEAT_SEC: '3' });
    assert.deepEqual(args, ['serve']);
    const config = loadAgentConfig(env);
    assert.equal(config.registerToken, 'hreg_abc');
    assert.equal(config.controlPlaneUrl, 'http://cp:8080');
    assert.equal(config.heartbeatSec, 3);
    assert.equal(loadAgentConfig({}).heartbeatSec, 10);
    assert.throws(() => applyRegisterFlags(['--register'], {}), /--register needs a value/);
    assert.throws(() => loadAgentConfig({ WRENN_CONTROL_PLANE_URL: 'cp:8080' }), /WRENN_CONTROL_PLANE_URL must be an http\(s\) URL/);
  });
});

describe('scheduler placement', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  const GB = 1024 ** 3;

  async function fakeHost(name: string, memGb: number, status: 'up' | 'down' | 'draining' = 'up'): Promise<string> {
    // Capacity rows only: placement is database logic, no agent is contacted.
    const id = newId('host');
    await t.cp.ctx.db
      .insertInto('hosts')
      .values({ id, name, status, vcpus_total: 4, memory_total_bytes: String(memGb * GB), memory_free_bytes: String(memGb * GB), disk_free_bytes: String(100 * GB), last_heartbeat_at: new Date() })
      .execute();
    return id;
  }

  before(async () => {
    t = await startControlPlane();
    team = await seedTeam(t.cp);
  });
  after(async () => {
    await t?.close();
  });

  const req = { vcpus: 1, memoryMb: 512, diskSizeMb: 0 };

  beforeEach(async () => {
    await t.cp.ctx.db.deleteFrom('capsules').execute();
    await t.cp.ctx.db.deleteFrom('hosts').execute();
  });

  test('with no host registered, placement is a 503 that says so', async () => {
    await assert.rejects(t.cp.ctx.scheduler.pick(req), (err: WrennError) => err.httpStatus === 503 && err.code === 'host_at_capacity' && /no host is registered/.test(err.message));
  });

  test('a capsule goes to the least-loaded up host, and stopped capsules load nothing', async () => {
    const a = await fakeHost('a', 8);
    const b = await fakeHost('b', 8);
    const onA = await insertCapsuleRow(t, team, a, 'running');
    await t.cp.ctx.db.updateTable('capsules').set({ memory_mb: 4096 }).where('id', '=', onA).execute();
    assert.equal((await t.cp.ctx.scheduler.pick(req)).id, b);
    const onB = await insertCapsuleRow(t, team, b, 'running');
    await t.cp.ctx.db.updateTable('capsules').set({ memory_mb: 6144 }).where('id', '=', onB).execute();
    assert.equal((await t.cp.ctx.scheduler.pick(req)).id, a);
    await t.cp.ctx.db.updateTable('capsules').set({ status: 'stopped' }).where('id', '=', onB).execute();
    assert.equal((await t.cp.ctx.scheduler.pick(req)).id, b);
  });

  test('down and draining hosts are skipped, with the reason in the 503', async () => {
    const down = await fakeHost('down', 64, 'down');
    const draining = await fakeHost('draining', 64, 'draining');
    await assert.rejects(t.cp.ctx.scheduler.pick(req), (err: WrennError) => {
      assert.equal(err.httpStatus, 503);
      assert.match(err.message, new RegExp(`${down} is down`));
      assert.match(err.message, new RegExp(`${draining} is draining`));
      return true;
    });
    const up = await fakeHost('up', 4);
    assert.equal((await t.cp.ctx.scheduler.pick(req)).id, up);
  });

  test("a snapshot template pins placement to its host (the team's own shadows a platform one); another team's is a 404", async () => {
    const a = await fakeHost('a', 64);
    const b = await fakeHost('b', 8);
    const other = await seedTeam(t.cp);
    const template = (name: string, teamId: string | null, hostId: string | null, kind: 'base' | 'snapshot' = 'snapshot') =>
      t.cp.ctx.db.insertInto('templates').values({ name, team_id: teamId, kind, host_id: hostId, default_env: '{}' }).execute();
    try {
      await template('snap-pin', team.teamId, b);
      assert.equal((await t.cp.ctx.scheduler.pick({ ...req, template: { name: 'snap-pin', teamId: team.teamId } })).id, b, 'pinned, though a has more room');
      assert.equal((await t.cp.ctx.scheduler.pick({ ...req, template: { name: 'unknown', teamId: team.teamId } })).id, a, 'no pin: least loaded');
      await template('shared', null, a, 'base');
      await template('shared', team.teamId, b);
      assert.equal((await t.cp.ctx.scheduler.pick({ ...req, template: { name: 'shared', teamId: team.teamId } })).id, b, "the team's own snapshot shadows the platform template");
      await assert.rejects(t.cp.ctx.scheduler.pick({ ...req, template: { name: 'snap-pin', teamId: other.teamId } }), (err: WrennError) => {
        assert.equal(err.httpStatus, 404);
        assert.equal(err.code, 'template_not_found');
        assert.match(err.message, /snap-pin does not exist/);
        return true;
      });
    } finally {
      await t.cp.ctx.db.deleteFrom('templates').where('name', 'in', ['snap-pin', 'shared']).execute();
    }
  });

  test('a request no host can take is a 503 naming what is short', async () => {
    const only = await fakeHost('only', 8);
    await assert.rejects(t.cp.ctx.scheduler.pick({ ...req, memoryMb: 64 * 1024 }), (err: WrennError) => err.httpStatus === 503 && /MB of memory left to commit/.test(err.message) && err.message.includes(only));
    await assert.rejects(t.cp.ctx.scheduler.pick({ ...req, vcpus: 16 }), (err: WrennError) => err.httpStatus === 503 && /has 4 cores/.test(err.message));
  });
});

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

/** Forwards TCP connections on `port` to `target` (both on 127.0.0.1). */
async function tcpRelay(port: number, target: number): Promise<Server> {
  const server = createServer((client) => {
    const upstream = connect(target, '127.0.0.1');
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

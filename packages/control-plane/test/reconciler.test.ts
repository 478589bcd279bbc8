import { test, describe, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { Code } from '@connectrpc/connect';
import type { ControlPlaneLink } from '@wrenn/host-agent';
import { hostResources, rpcError, sharedTemplates, startTestAgent, text, type TestAgent } from '@wrenn/host-agent/testing';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';
import { capsuleRow, createHostViaApi, createOnAgent, hostRow, insertCapsuleRow, linkFor, waitFor } from './host-fixtures.js';
import { reconcileOnce } from '../src/workers/reconciler.js';
import { newId } from '../src/domain/ids.js';

describe('reconciler', () => {
  let t: TestControlPlane;
  let ta: TestAgent;
  let team: SeededTeam;
  let link: ControlPlaneLink | undefined;
  let hostId: string;

  before(async () => {
    await sharedTemplates();
    // Liveness runs (hosts down after 1 s of silence); the reconciler is called by hand.
    t = await startControlPlane({ disableWorkers: ['reconciler'], env: { WRENN_HOST_DOWN_AFTER_SEC: '1' } });
    ta = await startTestAgent();
    team = await seedTeam(t.cp, { isAdmin: true });
    const created = await createHostViaApi(t, team.jwt, 'reconciled');
    hostId = created.hostId;
    link = linkFor(t, ta, { registerToken: created.token }).start();
    await link.registered();
    await waitFor('the host to be up', async () => (await hostRow(t, hostId)).status === 'up');
  });
  afterEach(async () => {
    for (const c of (await ta.client.list({})).capsules) await ta.client.destroy({ capsuleId: c.id });
    await t.cp.ctx.db.deleteFrom('capsules').execute();
  });
  after(async () => {
    await link?.close();
    await ta?.close();
    await t?.close();
  });

  const resultFor = (results: Awaited<ReturnType<typeof reconcileOnce>>, id: string) => {
    const r = results.find((x) => x.hostId === id);
    assert.ok(r, `no reconcile result for host ${id}`);
    return r;
  };

  test('a capsule on the host that the database has never heard of is destroyed once past the grace period', async () => {
    const orphan = await createOnAgent(ta);
    const young = resultFor(await reconcileOnce(t.cp.ctx), hostId);
    assert.equal(young.reached, true);
    assert.deepEqual(young.destroyed, [], 'a capsule younger than the grace period may be a create in flight');
    assert.equal((await ta.client.get({ capsuleId: orphan })).capsule?.id, orphan);

    const old = resultFor(await reconcileOnce(t.cp.ctx, { orphanGraceMs: 0 }), hostId);
    assert.deepEqual(old.destroyed, [orphan]);
    assert.equal((await rpcError(ta.client.get({ capsuleId: orphan }))).code, Code.NotFound);
  });

  test('capsules the database knows as stopped or error are destroyed on the host', async () => {
    const stopped = await insertCapsuleRow(t, team, hostId, 'stopped', await createOnAgent(ta));
    const failed = await insertCapsuleRow(t, team, hostId, 'error', await createOnAgent(ta));
    const r = resultFor(await reconcileOnce(t.cp.ctx), hostId);
    assert.deepEqual([...r.destroyed].sort(), [stopped, failed].sort());
    assert.deepEqual((await ta.client.list({})).capsules, []);
    assert.equal((await capsuleRow(t, stopped)).status, 'stopped');
    assert.equal((await capsuleRow(t, failed)).status, 'error');
  });

  test('capsules the database places on the host but the host does not have are marked stopped, "vanished from host"', async () => {
    const running = await insertCapsuleRow(t, team, hostId, 'running');
    const paused = await insertCapsuleRow(t, team, hostId, 'paused');
    const missing = await insertCapsuleRow(t, team, hostId, 'missing');
    const starting = await insertCapsuleRow(t, team, hostId, 'starting');
    const r = resultFor(await reconcileOnce(t.cp.ctx), hostId);
    assert.deepEqual([...r.vanished].sort(), [running, paused, missing].sort());
    for (const id of [running, paused, missing]) {
      const row = await capsuleRow(t, id);
      assert.equal(row.status, 'stopped');
      assert.match(row.error ?? '', /vanished from host/);
      assert.ok(row.stopped_at);
    }
    assert.equal((await capsuleRow(t, starting)).status, 'starting', 'a capsule being created belongs to its create call');
  });

  test('capsules left half-way by a control plane that died are settled from the host once stale; fresh ones are left to their operation', async () => {
    const created = await insertCapsuleRow(t, team, hostId, 'starting', await createOnAgent(ta));
    const paused = await insertCapsuleRow(t, team, hostId, 'pausing', await createOnAgent(ta));
    const lostCreate = await insertCapsuleRow(t, team, hostId, 'starting');
    const lostPause = await insertCapsuleRow(t, team, hostId, 'pausing');
    const lostStop = await insertCapsuleRow(t, team, hostId, 'stopping');
    const fresh = await insertCapsuleRow(t, team, hostId, 'starting');
    await t.cp.ctx.db.updateTable('capsules').set({ updated_at: new Date(Date.now() - 120_000) }).where('id', '!=', fresh).execute();
    const r = resultFor(await reconcileOnce(t.cp.ctx), hostId);
    const byId = Object.fromEntries(r.settled.map((x) => [x.id, x.status]));
    assert.deepEqual(byId, { [created]: 'running', [paused]: 'running', [lostCreate]: 'error', [lostPause]: 'stopped', [lostStop]: 'stopped' });
    assert.match((await capsuleRow(t, lostCreate)).error ?? '', /create was interrupted/);
    assert.ok((await capsuleRow(t, lostPause)).stopped_at);
    assert.equal((await capsuleRow(t, fresh)).status, 'starting', 'a capsule being created belongs to its create call');
    assert.deepEqual(r.destroyed, [], 'capsules on the host are adopted, not destroyed');
  });

  test('a missing capsule that its host still runs goes back to running', async () => {
    const id = await insertCapsuleRow(t, team, hostId, 'missing', await createOnAgent(ta));
    const r = resultFor(await reconcileOnce(t.cp.ctx), hostId);
    assert.deepEqual(r.restored, [{ id, status: 'running' }]);
    const row = await capsuleRow(t, id);
    assert.equal(row.status, 'running');
    assert.equal(row.error, null);
    assert.equal((await ta.client.get({ capsuleId: id })).capsule?.id, id, 'the capsule itself is untouched');
  });

  test('a host that does not answer is skipped with its error, without holding up the others', async () => {
    // A real peer that accepts connections and never answers (a hung agent).
    const sockets = new Set<Socket>();
    const hung: Server = createServer((s) => {
      sockets.add(s);
      s.on('error', () => {});
    });
    await new Promise<void>((r) => hung.listen(0, '127.0.0.1', r));
    const hungId = newId('host');
    // Draining: the liveness worker leaves its status alone, the reconciler still visits it.
    await t.cp.ctx.db
      .insertInto('hosts')
      .values({ id: hungId, name: 'hung', status: 'draining', agent_url: `http://127.0.0.1:${(hung.address() as { port: number }).port}`, agent_token: 'x', last_heartbeat_at: new Date() })
      .execute();
    const stranded = await insertCapsuleRow(t, team, hungId, 'running');
    const orphan = await createOnAgent(ta);
    try {
      const started = Date.now();
      const results = await reconcileOnce(t.cp.ctx, { listTimeoutMs: 1000, orphanGraceMs: 0 });
      const took = Date.now() - started;
      assert.ok(took < 5000, `reconcile took ${took} ms`);
      const slow = resultFor(results, hungId);
      assert.equal(slow.reached, false);
      assert.ok(slow.error);
      assert.deepEqual(slow.vanished, []);
      // (The liveness worker may meanwhile call it missing: its host is silent.)
      assert.notEqual((await capsuleRow(t, stranded)).status, 'stopped', 'nothing is decided about an unreachable host');
      assert.deepEqual(resultFor(results, hostId).destroyed, [orphan]);
    } finally {
      await t.cp.ctx.db.deleteFrom('capsules').where('id', '=', stranded).execute();
      await t.cp.ctx.db.deleteFrom('hosts').where('id', '=', hungId).execute();
      for (const s of sockets) s.destroy();
      hung.close();
    }
  });

  test('after the agent restarts, its capsules are reconciled: kept ones run again, orphans go, lost ones are stopped, nothing leaks', async () => {
    const kept = await insertCapsuleRow(t, team, hostId, 'running', await createOnAgent(ta));
    const orphan = await createOnAgent(ta);
    const lost = await insertCapsuleRow(t, team, hostId, 'running');
    const oldUrl = (await hostRow(t, hostId)).agent_url;

    await link!.close();
    link = undefined;
    await ta.restart();
    await waitFor('the silent host to be down', async () => (await hostRow(t, hostId)).status === 'down', 5000);
    assert.equal((await capsuleRow(t, kept)).status, 'missing');
    assert.equal((await capsuleRow(t, lost)).status, 'missing');

    // The restarted agent listens on a new port and comes back on its saved credentials.
    link = linkFor(t, ta).start();
    const back = await waitFor('the host to be up at its new address', async () => {
      const h = await hostRow(t, hostId);
      return h.status === 'up' && h.agent_url !== oldUrl ? h : undefined;
    });
    assert.equal(back.agent_url, `http://127.0.0.1:${ta.agent.port}`);

    const r = resultFor(await reconcileOnce(t.cp.ctx, { orphanGraceMs: 0 }), hostId);
    assert.equal(r.reached, true);
    assert.equal((await capsuleRow(t, kept)).status, 'running');
    const lostRow = await capsuleRow(t, lost);
    assert.equal(lostRow.status, 'stopped');
    assert.match(lostRow.error ?? '', /vanished from host/);
    assert.deepEqual(r.destroyed, [orphan]);

    const exec = await ta.client.exec({ capsuleId: kept, cmd: 'echo', args: ['still here'] });
    assert.equal(text(exec.stdout).trim(), 'still here');
    assert.deepEqual((await ta.client.list({})).capsules.map((c) => c.id), [kept]);
    const res = await hostResources(ta);
    assert.equal(res.runcState.length, 1, `runc state left: ${res.runcState.join(', ')}`);
  });
});

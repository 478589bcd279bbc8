/**
 * Placement that survives a dead host: two real host agents (compiled, each its own
 * process, registered through the real flow), the one placement would pick next is killed
 * by its PID, and every create that follows succeeds on the other one — well inside the
 * heartbeat window (the liveness worker is off here: nothing marks the dead host down). The
 * dead host is suspect at once (no further create tries it) and stays `up` in the table
 * until liveness would act; a heartbeat clears the suspicion.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { sharedTemplates, startAgentProcess, removeAgentProcess, testAgentIdentity, type AgentProcess } from '@wrenn/host-agent/testing';
import { seedTeam, startControlPlane } from './harness.js';
import { createHostViaApi, waitFor } from './host-fixtures.js';
import { isSuspect } from '../src/domain/scheduler.js';

test('two agents, one killed: creates keep succeeding on the other, the dead one is suspect at once', async () => {
  await sharedTemplates();
  const t = await startControlPlane();
  const admin = await seedTeam(t.cp, { isAdmin: true });
  const team = await seedTeam(t.cp);
  const ids = [testAgentIdentity(), testAgentIdentity()];
  const agents: Array<AgentProcess | undefined> = [];
  const capsules: string[] = [];
  try {
    const hostIds: string[] = [];
    for (const [i, id] of ids.entries()) {
      const { hostId, token } = await createHostViaApi(t, admin.jwt, `failover ${i}`);
      hostIds.push(hostId);
      agents.push(await startAgentProcess(id, { args: ['--register', token, '--control-plane', t.url], env: { WRENN_HEARTBEAT_SEC: '1' } }));
    }
    for (const hostId of hostIds) {
      await waitFor(`host ${hostId} up`, async () => (await t.api('GET', `/v1/hosts/${hostId}`, { auth: admin.jwt })).body.status === 'online', 20_000);
    }

    // The host the next create would go to dies without a word (SIGKILL: no deregistration).
    const doomed = (await t.cp.ctx.scheduler.pick({ vcpus: 1, memoryMb: 128, diskSizeMb: 0 })).id;
    const survivor = hostIds.find((h) => h !== doomed)!;
    const victim = agents[hostIds.indexOf(doomed)]!;
    victim.child.kill('SIGKILL');
    await new Promise((r) => victim.child.once('exit', r));

    const started = Date.now();
    for (let i = 0; i < 4; i++) {
      const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { template: 'busybox', memory_mb: 128, vcpus: 1 } });
      assert.equal(r.status, 201, `create ${i}: ${r.status} ${JSON.stringify(r.body)}`);
      assert.equal(r.body.host_id, survivor, `create ${i} went to the live host`);
      capsules.push(r.body.id);
    }
    // Two at once as well: neither may fail.
    const both = await Promise.all([0, 1].map(() => t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { template: 'busybox', memory_mb: 128, vcpus: 1 } })));
    for (const r of both) {
      assert.equal(r.status, 201, JSON.stringify(r.body));
      capsules.push(r.body.id);
    }
    assert.ok(Date.now() - started < t.cp.ctx.config.hostDownAfterSec * 1000, 'all within the heartbeat window');

    const dead = await t.cp.ctx.db.selectFrom('hosts').selectAll().where('id', '=', doomed).executeTakeFirstOrThrow();
    assert.equal(dead.status, 'up', 'not marked down by liveness (off here): the suspicion did it');
    assert.ok(isSuspect(dead), 'the dead host is suspect');
    const { ranked } = await t.cp.ctx.scheduler.place({ vcpus: 1, memoryMb: 128, diskSizeMb: 0 });
    assert.deepEqual(ranked.map((h) => h.id), [survivor], 'placement no longer offers the dead host');

    // A heartbeat after the suspicion clears it (the dead agent would send one on its return).
    await t.cp.ctx.db.updateTable('hosts').set({ last_heartbeat_at: sql`now() + interval '1 second'` as never }).where('id', '=', doomed).execute();
    const back = await t.cp.ctx.db.selectFrom('hosts').selectAll().where('id', '=', doomed).executeTakeFirstOrThrow();
    assert.equal(isSuspect(back), false);
  } finally {
    for (const id of capsules) await t.api('DELETE', `/v1/capsules/${id}`, { auth: team.apiKey }).catch(() => undefined);
    for (const [i, id] of ids.entries()) await removeAgentProcess(agents[i], id);
    await t.close();
  }
});

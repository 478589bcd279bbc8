/**
 * Paused capsules across agent restarts: a restarted agent lists them from disk and can
 * resume them; an agent killed with SIGKILL in the middle of a pause leaves, after its
 * restart, a capsule that is running, paused (resumable) or error with nothing held —
 * never a zombie. Snapshots without a capsule are deleted at start.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Code, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { CapsuleStatus, HostAgentService, PauseKind } from '@wrenn/proto/hostagent';
import { loadAgentConfig } from '../src/start/config.js';
import { startHostAgent } from '../src/start/agent.js';
import { REPO, hostResources, newCapsuleId, removeTestIdentity, rpcError, sharedTemplates, startTestAgent, testAgentIdentity, testLogger, type TestAgent } from './agent-harness.js';
import { COUNTER_PY, waitForLine } from './pause-fixtures.js';

const EMPTY = { mounts: [], loops: [], links: [], runcState: [], cgroups: [] };

describe('agent restart with paused capsules', () => {
  let t: TestAgent;
  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
  });
  after(async () => {
    await t?.close();
  });

  test('paused capsules are listed from disk and resume with their memory; orphan snapshots are deleted', async () => {
    const memory = newCapsuleId('cl-rm');
    const disk = newCapsuleId('cl-rf');
    for (const id of [memory, disk]) await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t.client.startBackground({ capsuleId: memory, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t, memory, '/tmp/counter.log', 3);
    await t.client.pause({ capsuleId: memory });
    await t.client.pause({ capsuleId: disk, kind: PauseKind.FILESYSTEM });
    const orphan = join(t.agent.manager.pauser!.snapshots.root, 'cl-gone');
    mkdirSync(join(orphan, 'memory'), { recursive: true });

    await t.restart();
    assert.equal(existsSync(orphan), false, 'snapshot without a capsule deleted');
    const listed = (await t.client.list({})).capsules;
    assert.deepEqual(
      listed.map((c) => [c.id, c.status, c.pauseKind]).sort(),
      [
        [memory, CapsuleStatus.PAUSED, PauseKind.MEMORY],
        [disk, CapsuleStatus.PAUSED, PauseKind.FILESYSTEM],
      ].sort(),
    );
    assert.deepEqual(await hostResources(t), EMPTY, 'paused capsules hold nothing on the host');
    await t.client.resume({ capsuleId: memory });
    await t.client.resume({ capsuleId: disk });
    const values = await waitForLine(t, memory, '/tmp/counter.log', 0, 5);
    assert.deepEqual(values, values.map((_, i) => i + 1), 'the counter went on from its value across the agent restart');
    assert.equal((await t.client.exec({ capsuleId: disk, cmd: 'true' })).exitCode, 0);
  });
});

describe('a memory snapshot taken on another host', () => {
  test('is refused clearly (naming both hosts) and kept: the capsule stays paused and resumes on its own host', async () => {
    await sharedTemplates();
    const t = await startTestAgent();
    try {
      const id = newCapsuleId('cl-mv');
      await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
      await t.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
      await waitForLine(t, id, '/tmp/counter.log', 3);
      await t.client.pause({ capsuleId: id });
      // The data dir now answers as another machine (as if it had been moved there).
      const hostIdFile = join(t.dataDir, 'host-id');
      const ownHost = readFileSync(hostIdFile, 'utf8').trim();
      await t.restart(() => writeFileSync(hostIdFile, 'host-elsewhere\n'));
      const refused = await rpcError(t.client.resume({ capsuleId: id }));
      assert.equal(refused.code, Code.FailedPrecondition);
      assert.match(refused.rawMessage, new RegExp(`taken on host ${ownHost}, not on this host \\(host-elsewhere\\)`));
      assert.equal((await t.client.get({ capsuleId: id })).capsule?.status, CapsuleStatus.PAUSED);
      assert.ok(await t.agent.manager.pauser!.snapshots.hasMemoryImage(id), 'the snapshot is kept');
      // Back on its own host, it resumes with its memory.
      await t.restart(() => writeFileSync(hostIdFile, `${ownHost}\n`));
      await t.client.resume({ capsuleId: id });
      const values = await waitForLine(t, id, '/tmp/counter.log', 0, 5);
      assert.deepEqual(values, values.map((_, i) => i + 1));
    } finally {
      await t.close();
    }
  });
});

describe('host agent killed with SIGKILL in the middle of a pause', () => {
  before(async () => {
    await sharedTemplates();
  });

  // 'reply': killed as soon as the Pause answered, while the paused capsule's mounts and
  // network are still being released (that happens after the reply).
  for (const delayMs of [20, 150, 400, 'reply'] as const) {
    const when = delayMs === 'reply' ? 'right after the reply to a Pause' : `${delayMs} ms into a Pause`;
    test(`killed ${when}: after the restart the capsule runs, or is paused and resumes, or is error and released`, async (ctx) => {
      const id = testAgentIdentity();
      const config = loadAgentConfig(id.env);
      const child = spawn(process.execPath, ['--import', 'tsx', join(REPO, 'packages/host-agent/src/start/main.ts')], {
        env: { ...process.env, ...id.env, WRENN_SKIP_TEMPLATE_BUILD: '1', WRENN_LOG_LEVEL: 'warn' },
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      let restarted: Awaited<ReturnType<typeof startHostAgent>> | undefined;
      try {
        const port = await new Promise<number>((resolve, reject) => {
          let out = '';
          child.stdout!.on('data', (b: Buffer) => {
            out += b.toString();
            const m = /listening on [\d.]+:(\d+)/.exec(out);
            if (m) resolve(Number(m[1]));
          });
          child.once('exit', (code) => reject(new Error(`agent exited early (${code})`)));
        });
        const client = createClient(
          HostAgentService,
          createConnectTransport({
            baseUrl: `http://127.0.0.1:${port}`,
            httpVersion: '2',
            interceptors: [(next) => async (req) => (req.header.set('authorization', `Bearer ${config.token}`), next(req))],
          }),
        );
        const capsuleId = newCapsuleId('cl-k');
        await client.create({ capsuleId, template: 'minimal', vcpus: 1, memoryMb: 256 });
        await client.startBackground({ capsuleId, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
        const pausing = client.pause({ capsuleId }).catch(() => undefined);
        if (delayMs === 'reply') assert.equal((await pausing)?.capsule?.status, CapsuleStatus.PAUSED);
        else await new Promise((r) => setTimeout(r, delayMs));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        await pausing;

        restarted = await startHostAgent(config, testLogger());
        const record = restarted.manager.get(capsuleId);
        ctx.diagnostic(`capsule recovered as ${record.status}`);
        if (delayMs === 'reply') {
          assert.equal(record.status, 'paused');
          assert.deepEqual(await hostResources(id), EMPTY, 'recovery finished the release the killed agent had begun');
        }
        if (record.status === 'paused') await restarted.manager.resume(capsuleId);
        if (record.status === 'running') {
          const envd = restarted.manager.envdOf(capsuleId, 'check');
          assert.equal(await envd.health(), true);
          const r = await envd.process.list({});
          assert.ok(r.processes.some((p) => p.tag === 'counter'), 'the counter process survived');
        } else {
          assert.equal(record.status, 'error', `capsule is ${record.status}`);
        }
        await restarted.manager.destroy(capsuleId);
        assert.deepEqual(await hostResources(id), EMPTY);
      } finally {
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
        if (restarted) {
          await restarted.manager.destroyAll();
          await restarted.close();
          await restarted.network.close();
        }
        await removeTestIdentity(id);
      }
    });
  }
});

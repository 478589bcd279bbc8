/**
 * A restarted agent finds its running capsules again; an agent killed with SIGKILL in the
 * middle of a Create leaves nothing behind once it restarts (mounts, loop devices, veths,
 * runc state, cgroups, records).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { HostAgentService } from '@wrenn/proto/hostagent';
import { loadAgentConfig } from '../src/start/config.js';
import { startHostAgent } from '../src/start/agent.js';
import {
  REPO,
  hostResources,
  newCapsuleId,
  removeTestIdentity,
  sharedTemplates,
  startTestAgent,
  testAgentIdentity,
  testLogger,
  text,
  type TestAgent,
} from './agent-harness.js';

const EMPTY = { mounts: [], loops: [], links: [], runcState: [], cgroups: [] };

describe('host agent restart with capsules running', () => {
  let t: TestAgent;
  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
  });
  after(async () => {
    await t?.close();
  });

  test('the capsule is adopted again: same address, exec works, state kept', async () => {
    const id = newCapsuleId();
    const created = await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'echo kept > /tmp/state'] });
    await t.client.startBackground({ capsuleId: id, cmd: 'sleep', args: ['1000'], tag: 'survivor' });
    await t.restart();
    const got = await t.client.get({ capsuleId: id });
    assert.equal(got.capsule?.address, created.capsule?.address);
    const r = await t.client.exec({ capsuleId: id, cmd: 'cat', args: ['/tmp/state'] });
    assert.equal(text(r.stdout), 'kept\n');
    const procs = await t.client.listProcesses({ capsuleId: id });
    assert.ok(procs.processes.some((p) => p.tag === 'survivor'));
    await t.client.destroy({ capsuleId: id });
    assert.deepEqual(await hostResources(t), EMPTY);
  });
});

describe('host agent killed with SIGKILL in the middle of a Create', () => {
  before(async () => {
    await sharedTemplates();
  });

  for (const delayMs of [30, 120, 400]) {
    test(`killed ${delayMs} ms into a Create: the restarted agent leaves nothing behind`, async () => {
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
        const capsuleId = newCapsuleId();
        const creating = client.create({ capsuleId, template: 'minimal', vcpus: 1, memoryMb: 256 }).catch(() => undefined);
        await new Promise((r) => setTimeout(r, delayMs));
        child.kill('SIGKILL');
        await new Promise((r) => child.once('exit', r));
        await creating;

        restarted = await startHostAgent(config, testLogger());
        // Either the Create finished before the kill (the capsule runs and is adopted) or it
        // did not (nothing of it may remain). Never a half capsule.
        for (const c of restarted.manager.list()) {
          assert.equal(c.status, 'running', `adopted capsule ${c.id} is ${c.status}`);
          const envd = restarted.manager.envdOf(c.id, 'check');
          assert.equal(await envd.health(), true);
          await restarted.manager.destroy(c.id);
        }
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

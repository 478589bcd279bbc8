/**
 * The host agent as shipped: the compiled bundle (bin/wrenn-agent.mjs → dist/bin), started
 * as its own process with plain node, as a service manager starts it. Stopping it with
 * SIGTERM (what systemd sends) leaves its capsule and the capsule's processes running; the
 * next start adopts the capsule. The process is plain node on the bundle (no loader flag).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { CapsuleStatus } from '@wrenn/proto/hostagent';
import { newCapsuleId, sharedTemplates, testAgentIdentity, text } from './agent-harness.js';
import { AGENT_BIN, processExited, removeAgentProcess, startAgentProcess, type AgentProcess } from './agent-process.js';

test('the compiled agent: plain node, SIGTERM leaves the capsule running, the next start adopts it', async () => {
  await sharedTemplates();
  const id = testAgentIdentity();
  let running: AgentProcess | undefined;
  const capsuleId = newCapsuleId();
  try {
    running = await startAgentProcess(id);
    const cmdline = readFileSync(`/proc/${running.child.pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    assert.deepEqual(cmdline, [process.execPath, AGENT_BIN], 'plain node on the compiled entry');

    await running.client.create({ capsuleId, template: 'busybox', vcpus: 1, memoryMb: 128 });
    await running.client.exec({ capsuleId, cmd: '/bin/sh', args: ['-c', 'echo kept > /tmp/state'] });
    await running.client.startBackground({ capsuleId, cmd: 'sleep', args: ['1000'], tag: 'survivor' });

    running.child.kill('SIGTERM');
    assert.deepEqual(await processExited(running.child), { code: 0, signal: null }, 'a clean stop on SIGTERM');

    running = await startAgentProcess(id);
    const got = await running.client.get({ capsuleId });
    assert.equal(got.capsule?.status, CapsuleStatus.RUNNING);
    const r = await running.client.exec({ capsuleId, cmd: 'cat', args: ['/tmp/state'] });
    assert.equal(text(r.stdout), 'kept\n');
    const procs = await running.client.listProcesses({ capsuleId });
    assert.ok(procs.processes.some((p) => p.tag === 'survivor'), 'the background process outlived the agent');
    await running.client.destroy({ capsuleId });
  } finally {
    await running?.client.destroy({ capsuleId }).catch(() => undefined);
    await removeAgentProcess(running, id);
  }
});

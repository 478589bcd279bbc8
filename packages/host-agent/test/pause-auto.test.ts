/**
 * Auto-pause: a capsule created with auto_pause_sec is paused after that long without
 * activity; activity (here: ping) keeps it running; it resumes on Resume.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CapsuleStatus } from '@wrenn/proto/hostagent';
import { newCapsuleId, sharedTemplates, startTestAgent, type TestAgent } from './agent-harness.js';

async function waitForStatus(t: TestAgent, id: string, status: CapsuleStatus, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (Date.now() - started < timeoutMs) {
    if ((await t.client.get({ capsuleId: id })).capsule?.status === status) return Date.now() - started;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`capsule ${id} not ${CapsuleStatus[status]} within ${timeoutMs} ms`);
}

describe('auto-pause', () => {
  let t: TestAgent;
  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
  });
  after(async () => {
    await t?.close();
  });

  test('an idle capsule is paused after auto_pause_sec; pings keep it running; Resume brings it back', async () => {
    const id = newCapsuleId('cl-ap');
    const created = await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256, autoPauseSec: 2 });
    assert.equal(created.capsule?.autoPauseSec, 2);
    for (let i = 0; i < 8; i++) {
      assert.equal((await t.client.ping({ capsuleId: id })).healthy, true);
      await new Promise((r) => setTimeout(r, 500));
    }
    assert.equal((await t.client.get({ capsuleId: id })).capsule?.status, CapsuleStatus.RUNNING, 'pinged for 4 s: still running');
    await waitForStatus(t, id, CapsuleStatus.PAUSED, 6000);
    await t.client.resume({ capsuleId: id });
    assert.equal((await t.client.exec({ capsuleId: id, cmd: 'true' })).exitCode, 0);
    // Watched again after the resume.
    await waitForStatus(t, id, CapsuleStatus.PAUSED, 6000);
    await t.client.destroy({ capsuleId: id });
  });
});

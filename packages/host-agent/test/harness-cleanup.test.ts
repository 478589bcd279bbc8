/**
 * The test harness cleans up after itself (developer guide rule 7): a test agent that
 * created and destroyed capsules leaves no cgroup, nftables table or data dir behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { run } from '../src/infra/exec.js';
import { newCapsuleId, sharedTemplates, startTestAgent } from './agent-harness.js';

test('a closed test agent leaves no cgroup parent, nftables table or data dir', async () => {
  await sharedTemplates();
  const t = await startTestAgent();
  const id = newCapsuleId('cl-hc');
  await t.client.create({ capsuleId: id, template: 'busybox', vcpus: 1, memoryMb: 64 });
  const inHierarchies = () => readdirSync('/sys/fs/cgroup').filter((ctrl) => existsSync(join('/sys/fs/cgroup', ctrl, t.cgroupParent)));
  assert.ok(inHierarchies().length > 0, 'the agent made its cgroup parent');
  await t.close();
  assert.deepEqual(inHierarchies(), [], 'cgroup parent removed in every hierarchy');
  const tables = await run('nft', ['list', 'tables']);
  assert.ok(!tables.stdout.includes(`inet ${t.nftTable}\n`), 'nftables table removed');
  assert.equal(existsSync(t.dataDir), false, 'data dir removed');
});

/**
 * The unmodified `e2b` SDK (2.51): snapshots (create, list by sandbox, start a sandbox from
 * one, delete), fork (running copies with the source's memory), and the template routes
 * the SDK resolves names with (Template.exists, getTags).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, Template } from 'e2b';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

describe('e2b SDK: snapshots, fork, templates', () => {
  let f: E2bFixture;
  before(async () => {
    f = await startE2bFixture();
  });
  after(async () => {
    await f?.close();
  });

  test('a snapshot keeps memory and files: a sandbox created from it has both; listed by sandbox; deleted', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 120_000 }));
    await sbx.files.write('/home/user/state.txt', 'from the source');
    // A process whose memory only a memory snapshot keeps.
    await sbx.commands.run('python3 -c "import time; x=\\"in-memory\\"; open(\\"/tmp/ready\\",\\"w\\").close(); time.sleep(3600)"', { background: true });
    await sbx.commands.run('for i in $(seq 100); do [ -e /tmp/ready ] && exit 0; sleep 0.1; done; exit 1');
    const snap = await sbx.createSnapshot({ name: `snap-${Date.now().toString(36)}` });
    assert.deepEqual(snap.names, [snap.snapshotId]);
    assert.equal(await sbx.isRunning(), true, 'the source keeps running');
    const listed = await sbx.listSnapshots().nextItems();
    assert.deepEqual(listed.map((s) => s.snapshotId), [snap.snapshotId]);

    const copy = f.track(await Sandbox.create(snap.snapshotId, { timeoutMs: 60_000 }));
    assert.notEqual(copy.sandboxId, sbx.sandboxId);
    assert.equal(await copy.files.read('/home/user/state.txt'), 'from the source');
    // The bracket keeps pgrep from matching this very command line.
    const ps = await copy.commands.run("pgrep -f 'slee[p][(]3600' >/dev/null && echo alive");
    assert.equal(ps.stdout, 'alive\n');
    await copy.kill();

    assert.equal(await Sandbox.deleteSnapshot(snap.snapshotId), true);
    assert.equal(await Sandbox.deleteSnapshot(snap.snapshotId), false);
    assert.equal((await sbx.listSnapshots().nextItems()).length, 0);
    await sbx.kill();
  });

  test('fork: two running copies with the source memory and files; the fork snapshot is not left behind', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 120_000 }));
    await sbx.files.write('/home/user/forked.txt', 'shared past');
    const forks = await Sandbox.fork(sbx.sandboxId, { count: 2, timeoutMs: 60_000 });
    assert.equal(forks.length, 2);
    for (const fork of forks) {
      assert.ok(fork instanceof Sandbox, String(fork));
      f.track(fork);
      assert.equal(await fork.files.read('/home/user/forked.txt'), 'shared past');
      await fork.files.write('/home/user/forked.txt', fork.sandboxId);
      assert.equal((await fork.getInfo()).templateId, 'base');
    }
    assert.equal(await sbx.files.read('/home/user/forked.txt'), 'shared past', 'copies do not share a disk');
    assert.equal((await Sandbox.listSnapshots().nextItems()).length, 0);
    for (const fork of forks) if (fork instanceof Sandbox) await fork.kill();
    await sbx.kill();
  });

  test('Template.exists and getTags answer for base and for existing templates only', async () => {
    assert.equal(await Template.exists('base'), true);
    assert.equal(await Template.exists('minimal'), true);
    assert.equal(await Template.exists('no-such-template'), false);
    const tags = await Template.getTags('base');
    assert.deepEqual(tags.map((t) => t.tag), ['default']);
  });
});

/**
 * The pause order (docs/decisions.md#h1) and what a failed pause leaves, as the order of calls on in-memory
 * ports. The real pause, with runc and CRIU, is test/pause*.test.ts; these pin the order.
 */
import { afterEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isWrennError } from '@wrenn/shared';
import { memoryKit, runningRecord, type MemoryKit, type MemoryKitOptions } from '../testing/memory-kit.js';
import { PauseController } from './pause-controller.js';

let t: MemoryKit | undefined;
afterEach(async () => {
  await t?.close();
  t = undefined;
});

async function pauseWith(kind: 'memory' | 'filesystem', opts: MemoryKitOptions = {}) {
  t = await memoryKit(opts);
  const pauser = new PauseController(t.kit);
  const live = t.add(runningRecord());
  const outcome = await pauser.pause(live, kind).then(
    () => undefined,
    (err: unknown) => err,
  );
  await pauser.released();
  return { live, outcome, calls: t.calls, pauser };
}

describe('pause order', () => {
  test('memory: watchers, drain, envd prepare, connections closed, freeze, dump; then the host side released', async () => {
    const { live, outcome, calls, pauser } = await pauseWith('memory');
    assert.equal(outcome, undefined);
    assert.deepEqual(calls.slice(0, 6), ['watchers.stop', 'connections.drain', 'envd.prepareSnapshot', 'envd.close', 'runtime.freeze', 'runtime.checkpoint']);
    // After the reply: processes are gone, so runtime state, veth rules and mounts go side by side.
    assert.deepEqual(calls.slice(6).sort(), ['network.unplumb', 'rootfs.unmount', 'runtime.delete']);
    assert.equal(live.record.status, 'paused');
    assert.equal(live.record.pauseKind, 'memory');
    assert.equal(live.envd, undefined, 'no connection to a paused capsule');
    const meta = await pauser.snapshots.readMetadata(live.record.runtimeId);
    assert.equal(meta?.kind, 'memory');
    assert.equal(meta?.hostId, 'host-unit');
  });

  test('filesystem: the processes are stopped (SIGTERM, then removed) instead of dumped', async () => {
    const { live, calls } = await pauseWith('filesystem', { sandboxStatus: 'stopped' });
    assert.deepEqual(calls.slice(0, 7), [
      'watchers.stop',
      'connections.drain',
      'envd.prepareSnapshot',
      'envd.close',
      'runtime.kill.SIGTERM',
      'runtime.state',
      'runtime.delete',
    ]);
    assert.ok(!calls.includes('runtime.checkpoint') && !calls.includes('runtime.freeze'));
    assert.equal(live.record.status, 'paused');
    assert.equal(live.record.pauseKind, 'filesystem');
  });

  test('a failed dump revives a capsule that can still run: thawed, envd re-initialised, watched again; nothing released', async () => {
    const { live, outcome, calls } = await pauseWith('memory', { faults: { 'runtime.checkpoint': new Error('criu died') }, sandboxStatus: 'paused' });
    assert.ok(isWrennError(outcome) && /criu died/.test(outcome.message), String(outcome));
    const after = calls.slice(calls.indexOf('runtime.checkpoint') + 1);
    assert.deepEqual(after, ['runtime.state', 'runtime.thaw', 'envd.connect', 'envd.waitHealthy', 'envd.init', 'watchers.start']);
    assert.equal(live.record.status, 'running');
    assert.ok(live.envd, 'a fresh envd connection');
  });

  test('a failed dump of a capsule that cannot run any more releases everything and marks it error', async () => {
    const { live, outcome, calls } = await pauseWith('memory', { faults: { 'runtime.checkpoint': new Error('criu died') }, sandboxStatus: 'stopped' });
    assert.ok(isWrennError(outcome));
    const after = calls.slice(calls.indexOf('runtime.checkpoint') + 1);
    assert.deepEqual(after, ['runtime.state', 'watchers.stop', 'runtime.delete', 'network.unplumb', 'rootfs.remove']);
    assert.equal(live.record.status, 'error');
    assert.match(live.record.error ?? '', /pause failed: criu died; the capsule could not run again/);
  });

  test('envd failing to prepare fails a memory pause before anything is frozen', async () => {
    const { live, outcome, calls } = await pauseWith('memory', { faults: { 'envd.prepareSnapshot': new Error('envd hung') } });
    assert.ok(isWrennError(outcome) && outcome.code === 'unavailable', String(outcome));
    assert.ok(!calls.includes('runtime.freeze') && !calls.includes('runtime.checkpoint'));
    assert.equal(live.record.status, 'running');
  });

  test('a capsule that is not running is refused before any port is called, naming its state', async () => {
    t = await memoryKit();
    const pauser = new PauseController(t.kit);
    const live = t.add(runningRecord({ status: 'resuming' }));
    await assert.rejects(pauser.pause(live, 'memory'), (err: unknown) => isWrennError(err) && err.code === 'capsule_busy' && /it is resuming/.test(err.message));
    assert.deepEqual(t.calls, []);
  });

  test('memory asked of a host without CRIU is failed_precondition', async () => {
    t = await memoryKit({ host: { pause: { memory: false, lazyPages: false } } });
    const pauser = new PauseController(t.kit);
    await assert.rejects(pauser.pause(t.add(runningRecord()), 'memory'), (err: unknown) => isWrennError(err) && err.code === 'failed_precondition');
    assert.equal(pauser.kindFor(undefined), 'filesystem');
  });
});

/** The status machine's guard: every status change goes through CapsuleRegistry.transition. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isWrennError } from '@wrenn/shared';
import { STATUS_MOVES, type CapsuleStatus } from '../capsule-record.js';
import { CapsuleStore } from '../capsule-store.js';
import { runningRecord } from '../testing/memory-kit.js';
import { CapsuleRegistry } from './registry.js';

const registry = () => new CapsuleRegistry(new CapsuleStore('/nonexistent'));
const ALL = Object.keys(STATUS_MOVES) as CapsuleStatus[];

describe('CapsuleRegistry.transition', () => {
  test('moves a capsule along a move the status machine has', () => {
    const live = { record: runningRecord() };
    registry().transition(live, 'running', 'pausing');
    assert.equal(live.record.status, 'pausing');
  });

  test('accepts any of several expected states', () => {
    const live = { record: runningRecord({ status: 'resuming' }) };
    registry().transition(live, ['pausing', 'resuming', 'snapshotting'], 'running');
    assert.equal(live.record.status, 'running');
  });

  test('refuses a capsule that is not in the expected state, naming the state it found', () => {
    const live = { record: runningRecord({ status: 'paused' }) };
    assert.throws(
      () => registry().transition(live, 'running', 'pausing'),
      (err: unknown) =>
        isWrennError(err) &&
        err.code === 'capsule_busy' &&
        /cannot go from running to pausing: it is paused/.test(err.message) &&
        (err.details as { status?: string }).status === 'paused',
    );
    assert.equal(live.record.status, 'paused', 'unchanged');
  });

  test('names the error a capsule carries when it refuses one in error', () => {
    const live = { record: runningRecord({ status: 'error', error: 'pause failed: criu died' }) };
    assert.throws(() => registry().transition(live, 'running', 'pausing'), /it is error \(pause failed: criu died\)/);
  });

  test('refuses a move the status machine does not have, even from the expected state', () => {
    const live = { record: runningRecord({ status: 'paused' }) };
    assert.throws(() => registry().transition(live, 'paused', 'running'), /cannot go from paused to running: it is paused/);
    assert.equal(live.record.status, 'paused');
  });

  test('every status can go to stopping (destroy works from anywhere)', () => {
    for (const status of ALL) {
      const live = { record: runningRecord({ status }) };
      registry().transition(live, ALL, 'stopping');
      assert.equal(live.record.status, 'stopping', `from ${status}`);
    }
  });

  test('a capsule in error leaves it only through destroy', () => {
    assert.deepEqual(STATUS_MOVES.error, ['stopping']);
  });
});

describe('CapsuleRegistry lookups', () => {
  test('a warm capsule is invisible to callers: get refuses it, records leaves it out, find has it', () => {
    const r = registry();
    r.add({ record: runningRecord({ id: 'warm-1', runtimeId: 'warm-1', status: 'warm', warm: true }), lastActivityMs: 0 });
    r.add({ record: runningRecord({ id: 'cl-a', runtimeId: 'cl-a' }), lastActivityMs: 0 });
    assert.throws(() => r.get('warm-1'), (err: unknown) => isWrennError(err) && err.code === 'capsule_not_found');
    assert.deepEqual(
      r.records().map((c) => c.id),
      ['cl-a'],
    );
    assert.equal(r.find('warm-1')?.record.id, 'warm-1');
    assert.equal(r.all().length, 2);
  });
});

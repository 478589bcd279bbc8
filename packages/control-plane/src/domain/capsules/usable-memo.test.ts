import { afterEach, describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import type { Capsule } from '../../db/schema.js';
import { USABLE_MEMO_TTL_MS, UsableCapsuleMemo } from './usable-memo.js';

const capsule = (status: Capsule['status'] = 'running') => ({ id: 'cl-1', team_id: 'team-a', status }) as Capsule;
const host = { id: 'host-1', agent_url: 'http://127.0.0.1:1', agent_token: 't', status: 'up' as const, proxy_url: null };

describe('the usable-capsule memo', () => {
  afterEach(() => mock.timers.reset());

  test('remembers a running capsule for its team only', () => {
    const memo = new UsableCapsuleMemo();
    memo.remember(capsule(), host, memo.generation);
    assert.equal(memo.recall('team-a', 'cl-1')?.host, host);
    assert.equal(memo.recall('team-b', 'cl-1'), undefined, "another team gets the database's answer");
  });

  test('never remembers a capsule that is not running', () => {
    const memo = new UsableCapsuleMemo();
    memo.remember(capsule('paused'), host, memo.generation);
    assert.equal(memo.recall('team-a', 'cl-1'), undefined);
  });

  test('forget() drops everything, and a lookup that started before it cannot store its answer after it', () => {
    const memo = new UsableCapsuleMemo();
    memo.remember(capsule(), host, memo.generation);
    const startedBefore = memo.generation;
    memo.forget();
    assert.equal(memo.recall('team-a', 'cl-1'), undefined);
    memo.remember(capsule(), host, startedBefore);
    assert.equal(memo.recall('team-a', 'cl-1'), undefined, 'a stale answer is not stored');
  });

  test('an entry lives USABLE_MEMO_TTL_MS', () => {
    mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
    const memo = new UsableCapsuleMemo();
    memo.remember(capsule(), host, memo.generation);
    mock.timers.tick(USABLE_MEMO_TTL_MS - 1);
    assert.ok(memo.recall('team-a', 'cl-1'));
    mock.timers.tick(1);
    assert.equal(memo.recall('team-a', 'cl-1'), undefined);
  });

  test('two control planes in one process do not invalidate each other', () => {
    const a = new UsableCapsuleMemo();
    const b = new UsableCapsuleMemo();
    a.remember(capsule(), host, a.generation);
    b.forget();
    assert.ok(a.recall('team-a', 'cl-1'));
  });
});

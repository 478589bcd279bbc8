/**
 * The lifetime timer over spans no test can wait out: node's mock timers (and mock Date)
 * stand in for the 30 days; the runtime's stats and the disk usage are stubs, since the
 * sampler is not what is under test (real capsules exercise it in agent.test.ts).
 */
import { test, describe, mock, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { silentLogger } from '@wrenn/shared';
import { CapsuleWatchers, type WatchedCapsule } from './capsule-watchers.js';
import type { CapsuleRecord } from './capsule-record.js';

const DAY_MS = 24 * 3600 * 1000;

function watched(expiresAtMs: number): WatchedCapsule {
  const record = { id: 'cl-w', runtimeId: 'cl-w', status: 'running', vcpus: 1, expiresAtMs, autoPauseSec: 0 } as CapsuleRecord;
  return { record, lastActivityMs: Date.now() };
}

describe('capsule lifetime timer', () => {
  afterEach(() => mock.timers.reset());

  test('a 30-day lifetime ends after 30 days, not at setTimeout\'s ~24.8-day limit', async () => {
    mock.timers.enable({ apis: ['setTimeout', 'setInterval', 'Date'], now: 1_000_000 });
    const expired: string[] = [];
    const watchers = new CapsuleWatchers({
      runtime: { stats: async () => ({ cpuUsageNs: 0, memoryUsedBytes: 0, memoryLimitBytes: 1, pids: 0 }) as never },
      rootfs: { usage: async () => ({ usedBytes: 0, totalBytes: 1 }) as never },
      capsuleDir: () => '/nonexistent',
      logger: silentLogger(),
      expire: async (id) => void expired.push(id),
    });
    const live = watched(Date.now() + 30 * DAY_MS);
    watchers.start(live);
    try {
      mock.timers.tick(25 * DAY_MS);
      assert.deepEqual(expired, [], 'still alive after 25 days');
      mock.timers.tick(5 * DAY_MS - 1000);
      assert.deepEqual(expired, [], 'still alive a second before the end');
      mock.timers.tick(1000);
      assert.deepEqual(expired, ['cl-w']);
    } finally {
      watchers.stop(live);
    }
  });
});

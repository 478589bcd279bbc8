/** EnvdSupervisor with in-memory ports: who is reported lost, when, and only once. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { silentLogger } from '@wrenn/shared';
import type { CapsuleRecord } from '../capsule-record.js';
import type { GuardedEnvd } from '../ports.js';
import { EnvdSupervisor } from './envd-supervisor.js';

function setup(opts: { noInit?: boolean } = {}) {
  const alive = new Set<number>();
  const lost: Array<{ id: string; reason: string; guarded: GuardedEnvd }> = [];
  let nextPid = 100;
  const supervisor = new EnvdSupervisor({
    runtime: { state: async () => (opts.noInit ? undefined : { id: 'x', status: 'running', pid: 1, bundle: '' }) as never },
    guard: {
      protect: async () => {
        const envdPid = nextPid++;
        alive.add(envdPid);
        return { envdPid };
      },
      alive: async (g) => alive.has(g.envdPid),
    },
    logger: silentLogger(),
    lost: (capsule, guarded, reason) => lost.push({ id: capsule.record.id, reason, guarded }),
    periodMs: 20,
  });
  const capsule = (id: string) => ({ record: { id, runtimeId: id, status: 'running' } as CapsuleRecord });
  return { supervisor, alive, lost, capsule };
}

test('a dead envd is reported once, with its handle; a live one never', async () => {
  const { supervisor, alive, lost, capsule } = setup();
  const a = capsule('a');
  const b = capsule('b');
  supervisor.watch(a);
  supervisor.watch(b);
  const ga = (await supervisor.protectNow(a))!;
  await supervisor.protectNow(b);
  await sleep(60);
  assert.equal(lost.length, 0);
  alive.delete(ga.envdPid);
  await sleep(100);
  assert.deepEqual(lost.map((l) => [l.id, l.reason]), [['a', `envd (pid ${ga.envdPid}) exited`]]);
  assert.ok(supervisor.isCurrent(a, lost[0]!.guarded));
  supervisor.unwatch(a);
  supervisor.unwatch(b);
});

test('unwatched (paused, destroyed) or not running: not reported', async () => {
  const { supervisor, alive, lost, capsule } = setup();
  const a = capsule('a');
  supervisor.watch(a);
  const g = (await supervisor.protectNow(a))!;
  supervisor.unwatch(a);
  alive.delete(g.envdPid);
  const b = capsule('b');
  supervisor.watch(b);
  const gb = (await supervisor.protectNow(b))!;
  (b.record as { status: string }).status = 'pausing';
  alive.delete(gb.envdPid);
  await sleep(100);
  assert.equal(lost.length, 0);
  assert.equal(supervisor.isCurrent(a, g), false);
  supervisor.unwatch(b);
});

test('no init to protect: reported at once', async () => {
  const { supervisor, lost, capsule } = setup({ noInit: true });
  const a = capsule('a');
  supervisor.watch(a);
  await sleep(30);
  assert.equal(lost.length, 1);
  assert.match(lost[0]!.reason, /envd could not be found to protect: its runtime is gone/);
  supervisor.unwatch(a);
});

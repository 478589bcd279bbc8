import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Admission } from './admission.js';

const tick = () => new Promise((r) => setImmediate(r));

function gate(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

test('at most `concurrency` run at once; the rest start in arrival order as turns free up', async () => {
  const a = new Admission(2);
  const order: number[] = [];
  let peak = 0;
  let now = 0;
  const gates = Array.from({ length: 5 }, gate);
  const runs = gates.map((g, i) =>
    a.run(async () => {
      order.push(i);
      peak = Math.max(peak, ++now);
      await g.promise;
      now--;
      return i;
    }),
  );
  await tick();
  assert.deepEqual(order, [0, 1]);
  assert.equal(a.queued, 3);
  gates[1]!.resolve();
  await tick();
  await tick();
  assert.deepEqual(order, [0, 1, 2]);
  for (const g of gates) g.resolve();
  assert.deepEqual(await Promise.all(runs), [0, 1, 2, 3, 4]);
  assert.equal(peak, 2);
  assert.equal(a.queued, 0);
  assert.equal(a.active, 0);
});

test('a caller that gives up while queued leaves the queue and never runs; a failing run frees its turn', async () => {
  const a = new Admission(1);
  const hold = gate();
  const first = a.run(() => hold.promise);
  const ac = new AbortController();
  let ran = false;
  const second = a.run(async () => {
    ran = true;
  }, ac.signal);
  await tick();
  assert.equal(a.queued, 1);
  ac.abort();
  await assert.rejects(second, (e: Error & { code?: string }) => e.code === 'canceled');
  assert.equal(a.queued, 0);
  hold.resolve();
  await first;
  await assert.rejects(a.run(async () => Promise.reject(new Error('boom'))), /boom/);
  assert.equal(await a.run(async () => 'next'), 'next');
  assert.equal(ran, false);
  assert.equal(a.active, 0);
});

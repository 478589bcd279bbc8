import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { RingBuffer } from './ring-buffer.js';
import { TieredMetrics, type MetricSample } from './tiers.js';

const sample = (tsMs: number, cpuPct = 10): MetricSample => ({
  tsMs,
  cpuPct,
  memUsedBytes: 100,
  memTotalBytes: 1000,
  diskUsedBytes: 5,
  diskTotalBytes: 50,
});

describe('RingBuffer', () => {
  test('keeps the newest `capacity` items, oldest first', () => {
    const r = new RingBuffer<number>(3);
    for (let i = 1; i <= 5; i++) r.push(i);
    assert.deepEqual(r.toArray(), [3, 4, 5]);
    assert.equal(r.length, 3);
  });
});

describe('TieredMetrics (H8 tiers)', () => {
  test('fine tier holds 10 minutes of 1 s samples and no more', () => {
    const m = new TieredMetrics();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 1200; i++) m.add(sample(t0 + i * 1000));
    const now = t0 + 1199 * 1000;
    assert.equal(m.query('10m', now).length, 600);
    assert.equal(m.query('5m', now).length, 301);
  });

  test('2h range returns 30 s averages', () => {
    const m = new TieredMetrics();
    const t0 = 1_700_000_010_000 - (1_700_000_010_000 % 30_000);
    for (let i = 0; i < 120; i++) m.add(sample(t0 + i * 1000, i < 30 ? 0 : 100));
    const pts = m.query('2h', t0 + 119_000);
    assert.equal(pts.length, 4);
    assert.equal(pts[0]!.cpuPct, 0);
    assert.equal(pts[1]!.cpuPct, 100);
    assert.equal(pts[1]!.tsMs - pts[0]!.tsMs, 30_000);
  });

  test('memory stays bounded after a day of samples', () => {
    const m = new TieredMetrics();
    const t0 = 1_700_000_000_000;
    for (let i = 0; i < 86_400; i++) m.add(sample(t0 + i * 1000));
    assert.ok(m.size <= 600 + 240 + 288);
    const day = m.query('24h', t0 + 86_399_000);
    assert.ok(day.length >= 287 && day.length <= 289, `24h points: ${day.length}`);
  });
});

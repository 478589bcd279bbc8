/**
 * Team statistics, daily usage and the usage worker (metric samples, CPU/RAM minutes,
 * auto-pause), with a real agent and real capsules. The worker's timer is off: each test
 * runs a tick by hand. Elapsed time is simulated by moving a capsule's timestamps back
 * in the database (waiting minutes for real would not fit a test run).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { startControlPlane, seedTeam, TIMER_WORKERS_OFF_BY_DEFAULT, type SeededTeam, type TestControlPlane } from './harness.js';
import { CapsuleUsageWorker, USAGE_WORKER_NAME } from '../src/domain/capsules/usage-worker.js';
import { minutesByDay } from '../src/domain/capsules/usage.js';

const today = () => new Date().toISOString().slice(0, 10);

describe('minutesByDay', () => {
  test('splits an interval at UTC midnight', () => {
    const parts = minutesByDay(new Date('2026-03-01T23:50:00Z'), new Date('2026-03-02T00:20:00Z'));
    assert.deepEqual(parts, [
      ['2026-03-01', 10],
      ['2026-03-02', 20],
    ]);
  });

  test('an empty interval counts nothing', () => {
    assert.deepEqual(minutesByDay(new Date('2026-03-01T10:00:00Z'), new Date('2026-03-01T10:00:00Z')), []);
  });
});

describe('capsules API: stats, usage and the usage worker', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let other: SeededTeam;
  let worker: CapsuleUsageWorker;
  let id: string;
  const created: string[] = [];

  const create = async (body: Record<string, unknown>) => {
    const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    created.push(r.body.id);
    return r.body;
  };
  /**
   * Usage of yesterday and today, summed: backdated running time near UTC midnight is
   * split across the two days (see minutesByDay), and the test must not depend on the hour.
   */
  const usageToday = async (auth = team.apiKey) => {
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
    const r = await t.api('GET', `/v1/capsules/usage?from=${yesterday}&to=${today()}`, { auth });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const days = r.body.days as Array<{ date: string; cpu_minutes: number; ram_mb_minutes: number }>;
    return {
      date: today(),
      cpu_minutes: days.reduce((a, d) => a + d.cpu_minutes, 0),
      ram_mb_minutes: days.reduce((a, d) => a + d.ram_mb_minutes, 0),
    };
  };
  /** Pretends the capsule's running time up to now started `minutes` ago. */
  const runFor = (capsuleId: string, minutes: number) =>
    t.cp.ctx.db.updateTable('capsules').set({ usage_accounted_at: sql`now() - ${sql.lit(minutes)} * interval '1 minute'` as never }).where('id', '=', capsuleId).execute();

  before(async () => {
    t = await startControlPlane({ withAgent: true, disableWorkers: [...TIMER_WORKERS_OFF_BY_DEFAULT, USAGE_WORKER_NAME] });
    assert.ok(!t.cp.workers.some((w) => w.name === USAGE_WORKER_NAME));
    worker = new CapsuleUsageWorker(t.cp.ctx);
    team = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
    id = (await create({ vcpus: 0.5, memory_mb: 256 })).id;
  });

  after(async () => {
    for (const c of created) await t?.api('DELETE', `/v1/capsules/${c}`, { auth: team.apiKey }).catch(() => {});
    await t?.close();
  });

  test('a tick counts running minutes as vCPU-minutes and MB-minutes of the day', async () => {
    const before = await usageToday();
    await runFor(id, 10);
    await worker.tick();
    const after = await usageToday();
    assert.ok(Math.abs(after.cpu_minutes - before.cpu_minutes - 5) < 0.2, `cpu ${before.cpu_minutes} → ${after.cpu_minutes}`);
    assert.ok(Math.abs(after.ram_mb_minutes - before.ram_mb_minutes - 2560) < 50, `ram ${before.ram_mb_minutes} → ${after.ram_mb_minutes}`);
  });

  test('a second tick right away adds (almost) nothing: minutes are counted once', async () => {
    await worker.tick();
    const before = await usageToday();
    await worker.tick();
    const after = await usageToday();
    assert.ok(after.cpu_minutes - before.cpu_minutes < 0.1);
  });

  test("another team's usage does not include these minutes", async () => {
    const theirs = await usageToday(other.apiKey);
    assert.deepEqual(theirs, { date: today(), cpu_minutes: 0, ram_mb_minutes: 0 });
  });

  test('destroy counts the minutes since the last tick', async () => {
    const c = await create({ vcpus: 1, memory_mb: 256 });
    await runFor(c.id, 4);
    const before = await usageToday();
    assert.equal((await t.api('DELETE', `/v1/capsules/${c.id}`, { auth: team.apiKey })).status, 204);
    const after = await usageToday();
    assert.ok(Math.abs(after.cpu_minutes - before.cpu_minutes - 4) < 0.2, `cpu ${before.cpu_minutes} → ${after.cpu_minutes}`);
    await worker.tick();
    assert.ok((await usageToday()).cpu_minutes - after.cpu_minutes < 0.2, 'a stopped capsule is not counted again');
  });

  test('usage lists every day of the range (zeros filled in), 30 days by default', async () => {
    const r = await t.api('GET', '/v1/capsules/usage', { auth: team.apiKey });
    assert.equal(r.status, 200);
    assert.equal(r.body.days.length, 30);
    assert.equal(r.body.to, today());
    assert.equal(r.body.days.at(-1).date, today());
    assert.ok(r.body.days.at(-1).cpu_minutes > 0);
    assert.equal(r.body.days[0].cpu_minutes, 0);
  });

  test('usage refuses bad ranges with 400', async () => {
    for (const q of ['from=2026-02-10&to=2026-02-01', 'from=yesterday', 'from=2020-01-01&to=2026-01-01', 'from=2026-01-01&extra=1']) {
      const r = await t.api('GET', `/v1/capsules/usage?${q}`, { auth: team.apiKey });
      assert.equal(r.status, 400, q);
      assert.equal(r.body.error.reason, 'invalid_argument');
      assert.equal(r.body.error.code, 'invalid_request');
    }
  });

  test('a tick stores each running capsule’s latest sample; stats show counts, held resources and the series', async () => {
    // The agent samples every second: wait for the capsule's first samples.
    await sleep(1500);
    await worker.tick();
    const stored = await t.cp.ctx.db.selectFrom('metric_points').selectAll().where('capsule_id', '=', id).execute();
    assert.ok(stored.length >= 1, 'a sample was stored');
    const r = await t.api('GET', '/v1/capsules/stats?range=5m', { auth: team.apiKey });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.range, '5m');
    assert.equal(r.body.counts.running, 1);
    assert.equal(r.body.counts.stopped, 1);
    assert.deepEqual(r.body.running, { capsules: 1, vcpus: 0.5, memory_mb: 256 });
    const last = r.body.points.at(-1);
    assert.ok(last, 'a point in the series');
    assert.equal(last.capsules, 1);
    assert.ok(last.mem_used_bytes > 0);
    assert.match(last.ts, /Z$/);
    assert.equal(last.memory_mb, 256);
    assert.deepEqual(r.body.current, { running_count: 1, vcpus_reserved: 1, memory_mb_reserved: 256, sampled_at: r.body.current.sampled_at });
    assert.equal(r.body.series.labels.at(-1), last.ts);
    assert.equal(r.body.series.running.at(-1), 1);
    assert.equal(r.body.series.memory_mb.at(-1), 256);
    assert.ok(r.body.peaks.running_count >= 1 && r.body.peaks.memory_mb >= 256);
    const theirs = await t.api('GET', '/v1/capsules/stats?range=5m', { auth: other.apiKey });
    assert.equal(theirs.body.counts.running, 0);
    assert.deepEqual(theirs.body.points, []);
    assert.deepEqual(theirs.body.series, { labels: [], running: [], vcpus: [], memory_mb: [] });
  });

  test('stats take every documented range, and refuse others with 400', async () => {
    for (const range of ['5m', '1h', '6h', '24h', '30d']) {
      const r = await t.api('GET', `/v1/capsules/stats?range=${range}`, { auth: team.apiKey });
      assert.equal(r.status, 200, range);
    }
    const bad = await t.api('GET', '/v1/capsules/stats?range=2h', { auth: team.apiKey });
    assert.equal(bad.status, 400);
  });

  test('a capsule idle past its timeout_sec is paused by the worker; an active one is not', async () => {
    const idle = await create({ memory_mb: 256, timeout_sec: 60 });
    const busy = await create({ memory_mb: 256, timeout_sec: 60 });
    await t.cp.ctx.db.updateTable('capsules').set({ last_activity_at: sql`now() - interval '2 minutes'` as never }).where('id', '=', idle.id).execute();
    const result = await worker.tick();
    assert.equal(result.autoPaused, 1);
    const a = await t.api('GET', `/v1/capsules/${idle.id}`, { auth: team.apiKey });
    assert.equal(a.body.status, 'paused');
    const b = await t.api('GET', `/v1/capsules/${busy.id}`, { auth: team.apiKey });
    assert.equal(b.body.status, 'running');
  });
});

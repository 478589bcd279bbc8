/**
 * The unmodified `e2b` SDK (2.51) against Wrenn: sandbox lifecycle through the E2B API.
 * Create (`base`: user `user` in /home/user), getInfo, kill, E2B errors (`{code, message}`),
 * another team's sandbox, setTimeout and the end of life (kill, or pause with autoPause),
 * pause/connect (201 resumed, 200 running), list paging and filters, metrics. Egress
 * rules are e2b-network.test.ts.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, SandboxNotFoundError } from 'e2b';
import { seedTeam } from './harness.js';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(200);
  }
}

describe('e2b SDK: sandbox lifecycle', () => {
  let f: E2bFixture;
  before(async () => {
    f = await startE2bFixture();
  });
  after(async () => {
    await f?.close();
  });

  test('Sandbox.create() makes a running `base` sandbox: user `user` in /home/user, info as E2B reports it', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000, metadata: { purpose: 'lifecycle' } }));
    assert.match(sbx.sandboxId, /^cl-/);
    const who = await sbx.commands.run('whoami && pwd && sudo -n true && echo sudo-ok');
    assert.equal(who.stdout, 'user\n/home/user\nsudo-ok\n');
    assert.equal(await sbx.isRunning(), true);
    const info = await sbx.getInfo();
    assert.equal(info.sandboxId, sbx.sandboxId);
    assert.equal(info.templateId, 'base');
    assert.equal(info.state, 'running');
    assert.equal(info.cpuCount, 1);
    assert.equal(info.memoryMB, 512);
    assert.deepEqual(info.metadata, { purpose: 'lifecycle' });
    assert.match(info.envdVersion, /^\d+\.\d+\.\d+$/);
    const lifeMs = info.endAt.getTime() - info.startedAt.getTime();
    assert.ok(lifeMs > 55_000 && lifeMs < 65_000, `endAt - startedAt = ${lifeMs} ms`);
    assert.equal(await sbx.kill(), true);
  });

  test('a killed sandbox is gone: isRunning false, getInfo NotFound, kill again false; errors are {code, message}', async () => {
    const sbx = await Sandbox.create({ timeoutMs: 60_000 });
    assert.equal(await sbx.kill(), true);
    assert.equal(await sbx.isRunning(), false);
    await assert.rejects(Sandbox.getInfo(sbx.sandboxId), SandboxNotFoundError);
    assert.equal(await Sandbox.kill(sbx.sandboxId), false);
    const raw = await f.t.api('GET', `/sandboxes/${sbx.sandboxId}`, { auth: f.team.apiKey });
    assert.equal(raw.status, 404);
    assert.equal(raw.body.code, 404);
    assert.equal(typeof raw.body.message, 'string');
    const unauth = await f.t.api('GET', '/v2/sandboxes');
    assert.equal(unauth.status, 401);
    assert.equal(unauth.body.code, 401);
  });

  test("another team's sandbox is not found, not listed, not killable", async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000 }));
    const other = await seedTeam(f.t.cp);
    await assert.rejects(Sandbox.getInfo(sbx.sandboxId, { apiKey: other.apiKey }), SandboxNotFoundError);
    assert.equal(await Sandbox.kill(sbx.sandboxId, { apiKey: other.apiKey }), false);
    const listed = await Sandbox.list({ apiKey: other.apiKey }).nextItems();
    assert.equal(listed.length, 0);
    assert.equal(await sbx.isRunning(), true);
    await sbx.kill();
  });

  test('the end of life kills the sandbox; setTimeout moves it', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 2_000 }));
    await sbx.setTimeout(60_000);
    const info = await sbx.getInfo();
    assert.ok(info.endAt.getTime() - Date.now() > 50_000, 'setTimeout moved endAt ~60 s ahead');
    await sbx.setTimeout(1_000);
    await until('the sandbox to be killed at its end of life', async () => ((await Sandbox.getInfo(sbx.sandboxId).then(() => false, (e) => e instanceof SandboxNotFoundError)) ? true : undefined));
    const status = await until('the capsule to be stopped', async () => {
      const row = await f.t.api('GET', `/v1/capsules/${sbx.sandboxId}`, { auth: f.team.apiKey });
      return row.body.status === 'stopping' ? undefined : row.body.status;
    });
    assert.equal(status, 'stopped');
  });

  test('with onTimeout pause the end of life pauses it; connect resumes it with its files (201), a running one answers 200', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 3_000, lifecycle: { onTimeout: 'pause' } }));
    await sbx.files.write('/home/user/kept.txt', 'still here');
    await until('the sandbox to pause at its end of life', async () => ((await Sandbox.getInfo(sbx.sandboxId)).state === 'paused' ? true : undefined));
    assert.equal(await sbx.isRunning(), false);
    const again = await Sandbox.connect(sbx.sandboxId, { timeoutMs: 60_000 });
    assert.equal(await again.files.read('/home/user/kept.txt'), 'still here');
    const info = await again.getInfo();
    assert.equal(info.state, 'running');
    assert.ok(info.endAt.getTime() - Date.now() > 50_000);
    const raw = await f.t.api('POST', `/v2/sandboxes/${sbx.sandboxId}/connect`, { auth: f.team.apiKey, body: { timeout: 60 } });
    assert.equal(raw.status, 200);
    assert.equal(raw.body.sandboxID, sbx.sandboxId);
    await again.kill();
  });

  test('pause() pauses (true), a second pause() answers false, connect() resumes with a 201', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000 }));
    await sbx.commands.run('echo 42 > /home/user/n');
    assert.equal(await sbx.pause(), true);
    assert.equal(await sbx.pause(), false);
    assert.equal((await sbx.getInfo()).state, 'paused');
    const raw = await f.t.api('POST', `/v2/sandboxes/${sbx.sandboxId}/connect`, { auth: f.team.apiKey, body: { timeout: 60 } });
    assert.equal(raw.status, 201);
    assert.equal((await sbx.commands.run('cat /home/user/n')).stdout, '42\n');
    await sbx.kill();
  });

  test('list pages with limit + nextToken, filters by metadata and state', async () => {
    const suite = `s${Date.now()}`;
    const made = [];
    for (let i = 0; i < 3; i++) made.push(f.track(await Sandbox.create({ timeoutMs: 60_000, metadata: { suite, i: String(i), 'odd key': 'a b&c' } })));
    const pager = Sandbox.list({ query: { metadata: { suite } }, limit: 2 });
    const first = await pager.nextItems();
    assert.equal(first.length, 2);
    assert.equal(pager.hasNext, true);
    const second = await pager.nextItems();
    assert.equal(second.length, 1);
    assert.equal(pager.hasNext, false);
    assert.deepEqual(new Set([...first, ...second].map((s) => s.sandboxId)), new Set(made.map((s) => s.sandboxId)));
    // Newest first.
    assert.equal(first[0]!.sandboxId, made[2]!.sandboxId);
    const one = await Sandbox.list({ query: { metadata: { suite, i: '1', 'odd key': 'a b&c' } } }).nextItems();
    assert.deepEqual(one.map((s) => s.sandboxId), [made[1]!.sandboxId]);
    await made[0]!.pause();
    const paused = await Sandbox.list({ query: { metadata: { suite }, state: ['paused'] } }).nextItems();
    assert.deepEqual(paused.map((s) => [s.sandboxId, s.state]), [[made[0]!.sandboxId, 'paused']]);
    const running = await Sandbox.list({ query: { metadata: { suite }, state: ['running'] } }).nextItems();
    assert.equal(running.length, 2);
    for (const s of made) await s.kill();
    assert.equal((await Sandbox.list({ query: { metadata: { suite } } }).nextItems()).length, 0);
  });

  test('metrics: samples of one sandbox and the latest of several', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000 }));
    const metrics = await until('metrics', async () => {
      const m = await sbx.getMetrics();
      return m.length > 0 ? m : undefined;
    });
    const last = metrics.at(-1)!;
    assert.equal(last.cpuCount, 1);
    assert.ok(last.memTotal > 0 && last.memUsed > 0 && last.memUsed <= last.memTotal);
    assert.ok(last.diskTotal > 0);
    assert.ok(Math.abs(last.timestamp.getTime() - Date.now()) < 60_000);
    const many = await f.t.api('GET', `/sandboxes/metrics?sandbox_ids=${sbx.sandboxId},cl-doesnotexist`, { auth: f.team.apiKey });
    assert.equal(many.status, 200);
    assert.deepEqual(Object.keys(many.body.sandboxes), [sbx.sandboxId]);
    await sbx.kill();
  });
});

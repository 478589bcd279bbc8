/**
 * Capsule activity (the auto-pause timer) and auto-resume, against real capsules:
 * activity is written behind the calls; streamed commands, process streams and terminal
 * output keep a capsule awake; a paused capsule created with auto_resume is resumed by
 * the REST routes and by the WebSocket routes before they attach, and answers 409 (4409
 * on a WebSocket) without it.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { CapsuleUsageWorker, USAGE_WORKER_NAME } from '../src/domain/capsules/usage-worker.js';
import { startControlPlane, seedTeam, TIMER_WORKERS_OFF_BY_DEFAULT, type SeededTeam, type TestControlPlane } from './harness.js';
import { WsClient } from './ws-support.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('capsule activity and auto-resume (real capsules)', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let worker: CapsuleUsageWorker;
  const created: string[] = [];
  const sockets: WsClient[] = [];

  const create = async (body: Record<string, unknown>): Promise<string> => {
    const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { memory_mb: 256, ...body } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    created.push(r.body.id);
    return r.body.id;
  };
  const status = async (id: string): Promise<string> => (await t.api('GET', `/v1/capsules/${id}`, { auth: team.apiKey })).body.status;
  const pause = async (id: string) => {
    const r = await t.api('POST', `/v1/capsules/${id}/pause`, { auth: team.apiKey });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.status, 'paused');
  };
  /** Seconds since the stored last_activity_at. */
  const idleSec = async (id: string): Promise<number> => {
    const row = await t.cp.ctx.db.selectFrom('capsules').select('last_activity_at').where('id', '=', id).executeTakeFirstOrThrow();
    return (Date.now() - new Date(row.last_activity_at).getTime()) / 1000;
  };
  /** As if the capsule's last call was an hour ago. */
  const makeIdle = (id: string) =>
    t.cp.ctx.db.updateTable('capsules').set({ last_activity_at: sql`now() - interval '1 hour'` as never }).where('id', '=', id).execute();
  const ws = async (id: string, path: string): Promise<WsClient> => {
    const c = await WsClient.open(t, `/v1/capsules/${id}${path}`, team.apiKey);
    sockets.push(c);
    return c;
  };

  before(async () => {
    t = await startControlPlane({ withAgent: true, disableWorkers: [...TIMER_WORKERS_OFF_BY_DEFAULT, USAGE_WORKER_NAME] });
    worker = new CapsuleUsageWorker(t.cp.ctx);
    team = await seedTeam(t.cp);
    // Held capsules are stamped every 10 s in production; a test cannot wait that long.
    t.cp.ctx.activity.pulseMs = 300;
  });
  after(async () => {
    for (const s of sockets) s.close();
    for (const id of created) await t?.api('DELETE', `/v1/capsules/${id}`, { auth: team.apiKey }).catch(() => {});
    await t?.close();
  });

  test('an exec counts as activity, written behind the call within about a second', async () => {
    const id = await create({});
    await makeIdle(id);
    const r = await t.api('POST', `/v1/capsules/${id}/exec`, { auth: team.apiKey, body: { cmd: 'true' } });
    assert.equal(r.status, 200);
    // No flush by hand: the recorder's own timer writes it.
    const deadline = Date.now() + 5000;
    while ((await idleSec(id)) > 60 && Date.now() < deadline) await sleep(100);
    assert.ok((await idleSec(id)) < 60, 'last_activity_at was refreshed');
  });

  test('a streamed command keeps its capsule awake while it runs; once it ends, the idle capsule is auto-paused', async () => {
    const id = await create({ timeout_sec: 1 });
    const s = await ws(id, '/exec/stream');
    s.send({ type: 'start', cmd: '/bin/sh', args: ['-c', 'for i in 1 2 3 4 5 6 7 8; do echo tick $i; sleep 0.4; done'] });
    await s.waitFor((m) => m.type === 'stdout');
    await makeIdle(id);
    await sleep(800); // longer than the (shortened) pulse
    await t.cp.ctx.activity.flush();
    assert.ok((await idleSec(id)) < 10, 'refreshed while the command streams');
    await sleep(1200); // past timeout_sec
    assert.equal((await worker.tick()).autoPaused, 0);
    await makeIdle(id);
    assert.equal((await worker.tick()).autoPaused, 0, 'never paused in the middle of a stream');
    assert.equal(await status(id), 'running');
    const exit = await s.waitFor((m) => m.type === 'exit', 20_000);
    assert.equal(exit.exit_code, 0);
    assert.match(s.streamText('stdout'), /tick 8\n$/);
    // The same capsule, idle with no stream: the worker does pause it.
    await s.closed;
    const activity = t.cp.ctx.activity;
    for (const deadline = Date.now() + 5000; activity.isHeld(id) && Date.now() < deadline; ) await sleep(20);
    assert.equal(activity.isHeld(id), false, 'released when the stream ended');
    await activity.flush();
    await makeIdle(id);
    assert.equal((await worker.tick()).autoPaused, 1);
    assert.equal(await status(id), 'paused');
  });

  test('a process stream keeps its capsule awake while it is open', async () => {
    const id = await create({ timeout_sec: 1 });
    const bg = await t.api('POST', `/v1/capsules/${id}/exec`, {
      auth: team.apiKey,
      body: { cmd: '/bin/sh', args: ['-c', 'while true; do echo beat; sleep 0.3; done'], background: true, tag: 'heart' },
    });
    assert.equal(bg.status, 202);
    const s = await ws(id, '/processes/heart/stream');
    await s.waitFor((m) => m.type === 'stdout');
    await makeIdle(id);
    await sleep(800);
    await t.cp.ctx.activity.flush();
    assert.ok((await idleSec(id)) < 10, 'refreshed while the stream is open');
    await sleep(1200);
    await makeIdle(id);
    assert.equal((await worker.tick()).autoPaused, 0);
    assert.equal(await status(id), 'running');
    s.close();
    await s.closed;
    assert.equal((await t.api('DELETE', `/v1/capsules/${id}/processes/heart?signal=SIGKILL`, { auth: team.apiKey })).status, 204);
  });

  test('terminal output counts as activity (no input sent)', async () => {
    const id = await create({});
    const s = await ws(id, '/pty');
    s.send({ type: 'start', cols: 80, rows: 24, cmd: '/bin/sh', args: ['-c', 'while true; do echo out; sleep 0.2; done'] });
    await s.waitFor((m) => m.type === 'started');
    await s.waitForOutput('out');
    await t.cp.ctx.activity.flush();
    await makeIdle(id);
    const seen = s.messages.length;
    await s.waitFor((m) => m.type === 'output', 5000, seen);
    await t.cp.ctx.activity.flush();
    assert.ok((await idleSec(id)) < 10, 'output after the idle stamp refreshed it');
    s.send({ type: 'kill' });
    await s.closed;
  });

  test('WebSockets resume a paused auto_resume capsule before attaching: exec stream, then terminal', async () => {
    const id = await create({ auto_resume: true });
    await pause(id);
    const s = await ws(id, '/exec/stream');
    s.send({ type: 'start', cmd: '/bin/echo', args: ['awake'] });
    const exit = await s.waitFor((m) => m.type === 'exit', 60_000);
    assert.equal(exit.exit_code, 0);
    assert.equal(s.streamText('stdout'), 'awake\n');
    assert.equal(await status(id), 'running');

    await pause(id);
    const pty = await ws(id, '/pty');
    pty.send({ type: 'start', cols: 80, rows: 24 });
    await pty.waitFor((m) => m.type === 'started', 60_000);
    pty.send({ type: 'input', data: Buffer.from('echo "$((6*7))"\n').toString('base64') });
    await pty.waitForOutput('42');
    assert.equal(await status(id), 'running');
    pty.send({ type: 'kill' });
    await pty.closed;
  });

  test('without auto_resume, WebSockets on a paused capsule close with 4409 naming the state, and leave it paused', async () => {
    const id = await create({});
    await pause(id);
    for (const path of ['/exec/stream', '/pty']) {
      const s = await ws(id, path);
      const err = await s.waitFor((m) => m.type === 'error');
      assert.match(err.message, /is paused/, path);
      assert.equal((await s.closed).code, 4409, path);
    }
    assert.equal(await status(id), 'paused');
  });

  test('a burst of calls on a paused auto_resume capsule resumes it once, and every call succeeds', async () => {
    const id = await create({ auto_resume: true });
    await pause(id);
    const calls = await Promise.all(
      Array.from({ length: 6 }, (_, i) => t.api('POST', `/v1/capsules/${id}/exec`, { auth: team.apiKey, body: { cmd: 'echo', args: [`call-${i}`] } })),
    );
    calls.forEach((r, i) => {
      assert.equal(r.status, 200, `call ${i}: ${JSON.stringify(r.body)}`);
      assert.equal(r.body.stdout.trim(), `call-${i}`);
    });
    assert.equal(await status(id), 'running');
  });

  test('REST files and processes routes resume an auto_resume capsule too; without it they answer 409', async () => {
    const id = await create({ auto_resume: true });
    await pause(id);
    const list = await t.api('POST', `/v1/capsules/${id}/files/list`, { auth: team.apiKey, body: { path: '/' } });
    assert.equal(list.status, 200, JSON.stringify(list.body));
    assert.equal(await status(id), 'running');
    await pause(id);
    const procs = await t.api('GET', `/v1/capsules/${id}/processes`, { auth: team.apiKey });
    assert.equal(procs.status, 200, JSON.stringify(procs.body));
    assert.equal(await status(id), 'running');

    const plain = await create({});
    await pause(plain);
    const refused = await t.api('POST', `/v1/capsules/${plain}/files/list`, { auth: team.apiKey, body: { path: '/' } });
    assert.equal(refused.status, 409);
    assert.match(refused.body.error.message, /is paused/);
    assert.equal((await t.api('GET', `/v1/capsules/${plain}/processes`, { auth: team.apiKey })).status, 409);
  });
});

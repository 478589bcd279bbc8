/**
 * The control plane's port proxy against real capsules (control plane → host agent proxy →
 * capsule): the `{port}-{id}.{domain}` host form and the E2b-Sandbox-Id/Port header form
 * reach a server in the capsule without an API key; envd's /health answers 502 for a
 * paused capsule (the e2b SDK's isRunning()); a paused auto_resume capsule is resumed by
 * traffic; WebSockets tunnel through while a spoofed Upgrade on an API route is still
 * refused (docs/decisions.md#c1); proxied traffic keeps a capsule with timeout_sec awake; requests are
 * counted in /metrics; the agent's proxy URL is learnt from its Health or its registration.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import WebSocket from 'ws';
import { sql } from 'kysely';
import { openRawWebSocket, PROXY_TEST_SERVER_PY } from '@wrenn/host-agent/testing';
import { CapsuleUsageWorker, USAGE_WORKER_NAME } from '../src/domain/capsules/usage-worker.js';
import { startControlPlane, seedTeam, TIMER_WORKERS_OFF_BY_DEFAULT, type SeededTeam, type TestControlPlane } from './harness.js';
import { createHostViaApi, hostRow, linkFor } from './host-fixtures.js';

const DOMAIN = 'wrenn.test';
const APP_PORT = 8080;
const ENVD_PORT = 49983;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Reply {
  status: number;
  body: string;
  json(): any;
}

describe('control plane port proxy (real capsules)', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let worker: CapsuleUsageWorker;
  const created: string[] = [];

  /** A request to the control plane's port, addressed to a capsule port by host name or by E2B's headers. */
  const send = (
    form: 'host' | 'headers',
    id: string,
    port: number,
    path: string,
    opts: { method?: string; body?: string | Buffer; headers?: Record<string, string> } = {},
  ): Promise<Reply> =>
    new Promise((resolve, reject) => {
      const routing = form === 'host' ? { host: `${port}-${id}.${DOMAIN}:${t.port}` } : { 'e2b-sandbox-id': id, 'e2b-sandbox-port': String(port) };
      const req = httpRequest({ host: '127.0.0.1', port: t.port, path, method: opts.method ?? 'GET', agent: false, headers: { ...routing, ...opts.headers } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const body = Buffer.concat(chunks).toString();
          resolve({ status: res.statusCode!, body, json: () => JSON.parse(body) });
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(opts.body);
    });

  const create = async (body: Record<string, unknown> = {}): Promise<string> => {
    const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { memory_mb: 256, ...body } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    created.push(r.body.id);
    const bg = await t.api('POST', `/v1/capsules/${r.body.id}/exec`, {
      auth: team.apiKey,
      body: { cmd: 'python3', args: ['-c', PROXY_TEST_SERVER_PY, String(APP_PORT)], background: true, tag: 'app' },
    });
    assert.equal(bg.status, 202, JSON.stringify(bg.body));
    for (const until = Date.now() + 10_000; Date.now() < until; await sleep(100)) {
      if ((await send('headers', r.body.id, APP_PORT, '/hello').catch(() => undefined))?.status === 200) return r.body.id;
    }
    throw new Error(`the test server in ${r.body.id} did not answer through the proxy`);
  };
  const status = async (id: string): Promise<string> => (await t.api('GET', `/v1/capsules/${id}`, { auth: team.apiKey })).body.status;
  const pause = async (id: string) => assert.equal((await t.api('POST', `/v1/capsules/${id}/pause`, { auth: team.apiKey })).status, 200);
  const makeIdle = (id: string) =>
    t.cp.ctx.db.updateTable('capsules').set({ last_activity_at: sql`now() - interval '1 hour'` as never }).where('id', '=', id).execute();
  const idleSec = async (id: string): Promise<number> => {
    const row = await t.cp.ctx.db.selectFrom('capsules').select('last_activity_at').where('id', '=', id).executeTakeFirstOrThrow();
    return (Date.now() - new Date(row.last_activity_at).getTime()) / 1000;
  };

  before(async () => {
    t = await startControlPlane({
      withAgent: true,
      env: { WRENN_PROXY_DOMAIN: DOMAIN },
      disableWorkers: [...TIMER_WORKERS_OFF_BY_DEFAULT, USAGE_WORKER_NAME],
    });
    worker = new CapsuleUsageWorker(t.cp.ctx);
    team = await seedTeam(t.cp);
  });
  after(async () => {
    for (const id of created) await t?.api('DELETE', `/v1/capsules/${id}`, { auth: team.apiKey }).catch(() => {});
    await t?.close();
  });

  test('the host-name form and the header form both reach the server in the capsule, with no API key', async () => {
    const id = await create();
    const byHost = await send('host', id, APP_PORT, '/hello');
    assert.equal(byHost.status, 200);
    assert.equal(byHost.body, `hello from the capsule; host=${APP_PORT}-${id}.${DOMAIN}:${t.port}`, 'the client’s Host reaches the app');
    const byHeaders = await send('headers', id, APP_PORT, '/hello');
    assert.equal(byHeaders.status, 200);
    assert.match(byHeaders.body, /^hello from the capsule/);
    const payload = 'p'.repeat(2 * 1024 * 1024 + 5);
    const echoed = await send('host', id, APP_PORT, '/echo', { method: 'POST', body: payload });
    assert.equal(echoed.status, 200);
    assert.equal(echoed.body, payload, 'bodies both ways, beyond the API’s body limit');
    // The registered test host sent no proxy URL: it was learnt from the agent's Health.
    assert.equal((await hostRow(t, t.hostId!)).proxy_url, `http://127.0.0.1:${t.agent!.agent.proxyPort}`);
    // The API itself is untouched on the same port.
    assert.equal((await t.api('GET', `/v1/capsules/${id}`, { auth: team.apiKey })).status, 200);
  });

  test('envd /health through the proxy: 200 running, 502 paused (no auto_resume), 502 for an unknown capsule', async () => {
    const id = await create();
    assert.equal((await send('headers', id, ENVD_PORT, '/health')).status, 200);
    await pause(id);
    const paused = await send('headers', id, ENVD_PORT, '/health');
    assert.equal(paused.status, 502);
    assert.equal(paused.json().error.reason, 'capsule_unreachable');
    assert.equal(paused.json().error.code, 'invalid_state');
    assert.equal(await status(id), 'paused', 'traffic does not resume a capsule without auto_resume');
    const unknown = await send('host', 'cl-doesnotexist0000', ENVD_PORT, '/health');
    assert.equal(unknown.status, 502);
    assert.equal(unknown.json().error.reason, 'capsule_unreachable');
    // Anonymous callers cannot tell a paused capsule from one that does not exist.
    assert.deepEqual(JSON.parse(paused.body.replaceAll(id, 'ID')), JSON.parse(unknown.body.replaceAll('cl-doesnotexist0000', 'ID')));
    const malformed = await send('headers', id, 0, '/health');
    assert.equal(malformed.status, 400);
  });

  test('a paused capsule created with auto_resume is resumed by a proxied request, which then succeeds', async () => {
    const id = await create({ auto_resume: true });
    await pause(id);
    assert.equal(await status(id), 'paused');
    const replies = await Promise.all([send('host', id, APP_PORT, '/hello'), send('headers', id, APP_PORT, '/hello'), send('headers', id, ENVD_PORT, '/health')]);
    assert.deepEqual(
      replies.map((r) => r.status),
      [200, 200, 200],
      replies.map((r) => r.body).join(' | '),
    );
    assert.equal(await status(id), 'running');
  });

  test('a WebSocket tunnels through to the capsule, while a spoofed Upgrade on an API route is still refused (C1)', async () => {
    const id = await create();
    const ws = new WebSocket(`ws://127.0.0.1:${t.port}/ws`, { headers: { 'E2b-Sandbox-Id': id, 'E2b-Sandbox-Port': String(APP_PORT) } });
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    const echoes: string[] = [];
    for (const text of ['one', 'two'.repeat(500)]) {
      const got = new Promise<string>((resolve) => ws.once('message', (d) => resolve(d.toString())));
      ws.send(text);
      echoes.push(await got);
    }
    assert.deepEqual(echoes, ['one', 'two'.repeat(500)]);
    ws.close();
    const byHost = await openRawWebSocket('127.0.0.1', t.port, '/ws', { Host: `${APP_PORT}-${id}.${DOMAIN}` });
    assert.equal(byHost.statusLine, 'HTTP/1.1 101 Switching Protocols');
    byHost.socket.destroy();
    const spoofed = await openRawWebSocket('127.0.0.1', t.port, '/v1/capsules', { 'X-API-Key': team.apiKey });
    assert.doesNotMatch(spoofed.statusLine, / 101 /, 'an API route never completes a handshake');
    assert.match(spoofed.statusLine, / 400 /);
    spoofed.socket.destroy();
    const unknownPaused = await openRawWebSocket('127.0.0.1', t.port, '/ws', { 'E2b-Sandbox-Id': 'cl-doesnotexist0000', 'E2b-Sandbox-Port': '8080' });
    assert.match(unknownPaused.statusLine, / 502 /);
    unknownPaused.socket.destroy();
  });

  test('proxied traffic keeps a capsule with timeout_sec awake; an in-flight request holds it; idle again, it is auto-paused', async () => {
    const id = await create({ timeout_sec: 1 });
    await makeIdle(id);
    assert.equal((await send('host', id, APP_PORT, '/hello')).status, 200);
    await t.cp.ctx.activity.flush();
    assert.ok((await idleSec(id)) < 10, 'a proxied request refreshed last_activity_at');
    const slow = send('headers', id, APP_PORT, '/slow?ms=2500');
    await sleep(1500);
    await makeIdle(id);
    assert.equal((await worker.tick()).autoPaused, 0, 'never paused under an in-flight proxied request');
    assert.equal((await slow).status, 200);
    assert.equal(await status(id), 'running');
    await t.cp.ctx.activity.flush();
    await makeIdle(id);
    assert.equal((await worker.tick()).autoPaused, 1);
    assert.equal(await status(id), 'paused');
  });

  test('proxied requests are counted in /metrics', async () => {
    const metrics = await t.api('GET', '/metrics');
    assert.match(metrics.body, /wrenn_proxy_requests_total\{kind="http",outcome="200"\} \d+/);
    assert.match(metrics.body, /wrenn_proxy_requests_total\{kind="http",outcome="502"\} \d+/);
    assert.match(metrics.body, /wrenn_proxy_requests_total\{kind="websocket",outcome="closed"\} \d+/);
  });

  test('an agent registering sends its proxy URL, and the host stores it', async () => {
    const admin = await seedTeam(t.cp, { isAdmin: true });
    const { hostId, token } = await createHostViaApi(t, admin.jwt, 'proxy host');
    const proxyUrl = `http://127.0.0.1:${t.agent!.agent.proxyPort}`;
    const link = linkFor(t, t.agent!, { registerToken: token, proxyUrl });
    link.start();
    try {
      assert.equal(await link.registered(), hostId);
      assert.equal((await hostRow(t, hostId)).proxy_url, proxyUrl);
    } finally {
      await link.close();
      await t.api('DELETE', `/v1/hosts/${hostId}?force=true`, { auth: admin.jwt });
    }
  });
});

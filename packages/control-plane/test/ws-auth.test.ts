import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';
import { WsClient, insertCapsuleRow } from './ws-support.js';
import { authScope } from '../src/http/plugins/auth.js';
import type { ControlPlaneExtension } from '../src/app.js';

/** A GET request carrying Upgrade/Connection headers (fetch refuses to send them). */
function spoofedUpgrade(port: number, path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // agent: false: the server drops the connection after refusing an upgrade; never reuse it.
    const req = http.request({ host: '127.0.0.1', port, path, method: 'GET', agent: false, headers: { connection: 'Upgrade', upgrade: 'websocket', ...headers } });
    req.on('response', (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 101, body: '' });
    });
    req.on('error', reject);
    req.end();
  });
}

async function refusedHandshake(p: Promise<WsClient>): Promise<number> {
  try {
    const c = await p;
    c.close();
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
  throw new Error('the WebSocket handshake succeeded');
}

describe('WebSocket authentication and access (C1)', () => {
  let t: TestControlPlane;
  let owner: SeededTeam;
  let other: SeededTeam;
  let stoppedId: string;
  let probeCalls = 0;
  // An ordinary authenticated route, to show an upgrade attempt on it runs no handler.
  const probe: ControlPlaneExtension = {
    name: 'probe',
    routes: async (app, ctx) => {
      await app.register(async (s) => {
        authScope(s, ctx, { allow: ['user', 'apiKey'] });
        s.get('/probe', async () => {
          probeCalls++;
          return { secret: 'handler ran' };
        });
      });
    },
  };

  before(async () => {
    t = await startControlPlane({ extensions: [probe], env: { WRENN_WS_AUTH_TIMEOUT_SEC: '1' } });
    owner = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
    stoppedId = await insertCapsuleRow(t, owner.teamId, { status: 'stopped' });
  });
  after(async () => {
    await t?.close();
  });

  test('credentials in the first message authenticate (a stopped capsule of the team then gives 4409 with its state)', async () => {
    const ws = await WsClient.open(t, `/v1/capsules/${stoppedId}/pty`);
    ws.send({ type: 'auth', api_key: owner.apiKey });
    const err = await ws.waitFor((m) => m.type === 'error');
    assert.match(err.message, /is stopped/);
    assert.equal(err.fatal, true);
    assert.equal((await ws.closed).code, 4409);

    const byToken = await WsClient.open(t, `/api/v1/capsules/${stoppedId}/exec/stream`);
    byToken.send({ type: 'auth', token: owner.jwt });
    assert.equal((await byToken.closed).code, 4409);
  });

  test('no credentials and no auth message within the timeout: 4401', async () => {
    const ws = await WsClient.open(t, `/v1/capsules/${stoppedId}/pty`);
    const err = await ws.waitFor((m) => m.type === 'error', 5000);
    assert.match(err.message, /authentication required/);
    assert.equal((await ws.closed).code, 4401);
  });

  test('a first message that is not auth, or a bad key in it: 4401', async () => {
    const ws = await WsClient.open(t, `/v1/capsules/${stoppedId}/pty`);
    ws.send({ type: 'start', cols: 80, rows: 24 });
    assert.equal((await ws.closed).code, 4401);
    const bad = await WsClient.open(t, `/v1/capsules/${stoppedId}/pty`);
    bad.send({ type: 'auth', api_key: `wrn_${'0'.repeat(32)}` });
    const err = await bad.waitFor((m) => m.type === 'error');
    assert.match(err.message, /unknown or revoked API key/);
    assert.equal((await bad.closed).code, 4401);
  });

  test('bad credentials in the upgrade headers refuse the handshake with 401', async () => {
    assert.equal(await refusedHandshake(WsClient.open(t, `/v1/capsules/${stoppedId}/pty`, `wrn_${'f'.repeat(32)}`)), 401);
    assert.equal(await refusedHandshake(WsClient.open(t, `/v1/capsules/${stoppedId}/pty`, 'not.a.jwt')), 401);
  });

  test("another team's capsule is 4404 on every WebSocket route, like an unknown id", async () => {
    for (const path of [`/v1/capsules/${stoppedId}/pty`, `/v1/capsules/${stoppedId}/exec/stream`, `/v1/capsules/${stoppedId}/processes/1/stream`]) {
      const ws = await WsClient.open(t, path, other.apiKey);
      const err = await ws.waitFor((m) => m.type === 'error');
      assert.match(err.message, /not found/);
      assert.equal((await ws.closed).code, 4404, path);
    }
    const unknown = await WsClient.open(t, '/v1/capsules/cl-nosuchcapsule/pty', owner.jwt);
    assert.equal((await unknown.closed).code, 4404);
  });

  test('a spoofed Upgrade header on a normal route grants nothing: 401 without credentials', async () => {
    const r = await spoofedUpgrade(t.port, `/v1/capsules/${stoppedId}`);
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).error.reason, 'unauthenticated');
    assert.equal(JSON.parse(r.body).error.code, 'unauthorized');
    const p = await spoofedUpgrade(t.port, '/probe');
    assert.equal(p.status, 401);
    assert.equal(probeCalls, 0);
  });

  test('a WebSocket handshake to a non-WebSocket route fails, even with valid credentials, and runs no handler', async () => {
    assert.equal(await refusedHandshake(WsClient.open(t, '/probe', owner.apiKey)), 400);
    assert.equal(await refusedHandshake(WsClient.open(t, `/v1/capsules/${stoppedId}`, owner.apiKey)), 400);
    assert.equal(await refusedHandshake(WsClient.open(t, '/health')), 400);
    assert.equal(await refusedHandshake(WsClient.open(t, '/v1/no-such-route', owner.apiKey)), 404);
    const spoofed = await spoofedUpgrade(t.port, '/probe', { 'x-api-key': owner.apiKey });
    assert.equal(spoofed.status, 400);
    assert.doesNotMatch(spoofed.body, /handler ran/);
    assert.equal(probeCalls, 0);
    // The same route without the upgrade works.
    assert.equal((await t.api('GET', '/probe', { auth: owner.apiKey })).status, 200);
    assert.equal(probeCalls, 1);
  });
});

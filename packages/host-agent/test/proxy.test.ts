/**
 * The agent's proxy listener against real capsules: HTTP and WebSocket traffic reaches a
 * server inside the capsule; wrong tokens, unknown capsules and closed ports get clear
 * answers; proxied traffic is activity for auto-pause; a pause drains proxied exchanges
 * (in-flight requests finish within the grace, the rest are force-closed) and a destroy
 * closes them; nothing is left open afterwards.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { CapsuleStatus } from '@wrenn/proto/hostagent';
import { PROXY_HEADERS } from '@wrenn/shared/proxy';
import { run } from '../src/infra/exec.js';
import {
  PROXY_TEST_SERVER_PY,
  closedSocket,
  newCapsuleId,
  openRawWebSocket,
  readTextFrame,
  sendTextFrame,
  sharedTemplates,
  startTestAgent,
  type TestAgent,
} from './agent-harness.js';

const APP_PORT = 8080;
const GRACE_MS = 1500;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Reply {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** One request through the agent's proxy on a fresh connection. */
function viaProxy(
  t: TestAgent,
  capsuleId: string,
  path: string,
  opts: { port?: number; method?: string; body?: Buffer | string; token?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: '127.0.0.1',
        port: t.agent.proxyPort,
        path,
        method: opts.method ?? 'GET',
        agent: false,
        headers: {
          [PROXY_HEADERS.agentToken]: opts.token ?? t.agent.token,
          [PROXY_HEADERS.capsuleId]: capsuleId,
          [PROXY_HEADERS.capsulePort]: String(opts.port ?? APP_PORT),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString(), headers: res.headers }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

function wsViaProxy(t: TestAgent, capsuleId: string) {
  return openRawWebSocket('127.0.0.1', t.agent.proxyPort, '/ws', {
    [PROXY_HEADERS.agentToken]: t.agent.token,
    [PROXY_HEADERS.capsuleId]: capsuleId,
    [PROXY_HEADERS.capsulePort]: String(APP_PORT),
  });
}

/** Established TCP connections from this host to the capsule's address. */
async function connectionsTo(address: string): Promise<string[]> {
  const { stdout } = await run('ss', ['-Htn', 'state', 'established', 'dst', address]);
  return stdout.split('\n').filter((l) => l.trim());
}

async function waitForStatus(t: TestAgent, id: string, status: CapsuleStatus, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if ((await t.client.get({ capsuleId: id })).capsule?.status === status) return;
    await sleep(50);
  }
  throw new Error(`capsule ${id} not ${CapsuleStatus[status]} within ${timeoutMs} ms`);
}

describe('agent proxy listener', () => {
  let t: TestAgent;
  const created: string[] = [];

  /** A capsule running the test server on APP_PORT, answering through the proxy. */
  async function capsuleWithServer(extra: { autoPauseSec?: number } = {}): Promise<{ id: string; address: string }> {
    const id = newCapsuleId('cl-px');
    const c = await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256, ...extra });
    created.push(id);
    await t.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', PROXY_TEST_SERVER_PY, String(APP_PORT)], tag: 'app' });
    for (const until = Date.now() + 10_000; Date.now() < until; await sleep(100)) {
      if ((await viaProxy(t, id, '/hello').catch(() => undefined))?.status === 200) return { id, address: c.capsule!.address };
    }
    throw new Error(`the test server in ${id} did not answer`);
  }

  before(async () => {
    await sharedTemplates();
    t = await startTestAgent({ env: { WRENN_PAUSE_DRAIN_GRACE_MS: String(GRACE_MS) } });
    assert.ok(t.agent.proxyPort > 0, 'the proxy listens');
  });
  after(async () => {
    for (const id of created) await t?.client.destroy({ capsuleId: id }).catch(() => {});
    await t?.close();
  });

  test('Health names the proxy port', async () => {
    assert.equal((await t.client.health({})).proxyPort, t.agent.proxyPort);
  });

  test('HTTP reaches the server in the capsule: Host passes through, bodies both ways, repeated requests', async () => {
    const { id } = await capsuleWithServer();
    const hello = await viaProxy(t, id, '/hello', { headers: { host: `8080-${id}.wrenn.test` } });
    assert.equal(hello.status, 200);
    assert.equal(hello.body, `hello from the capsule; host=8080-${id}.wrenn.test`);
    const payload = Buffer.alloc(3 * 1024 * 1024, 7);
    const echoed = await viaProxy(t, id, '/echo', { method: 'POST', body: payload });
    assert.equal(echoed.status, 200);
    assert.equal(echoed.body.length, payload.length);
    assert.equal(echoed.headers['content-length'], String(payload.length));
    const many = await Promise.all(Array.from({ length: 20 }, () => viaProxy(t, id, '/hello')));
    assert.deepEqual([...new Set(many.map((r) => r.status))], [200]);
    assert.equal((await viaProxy(t, id, '/nope')).status, 404, "the capsule's own statuses pass through");
  });

  test('a WebSocket through the proxy: handshake from the capsule, frames echoed both ways', async () => {
    const { id } = await capsuleWithServer();
    const ws = await wsViaProxy(t, id);
    assert.equal(ws.statusLine, 'HTTP/1.1 101 Switching Protocols');
    for (const text of ['first', 'x'.repeat(1000), 'last']) {
      sendTextFrame(ws, text);
      assert.equal(await readTextFrame(ws), text);
    }
    ws.socket.destroy();
    for (const until = Date.now() + 5000; t.agent.connections.count(id) > 0 && Date.now() < until; ) await sleep(20);
    assert.equal(t.agent.connections.count(id), 0, 'the tunnel is released when the client goes');
  });

  test('refusals: wrong token 401, unknown capsule 502, closed port 502, no target 400, all as JSON errors', async () => {
    const { id } = await capsuleWithServer();
    const wrong = await viaProxy(t, id, '/hello', { token: 'not-the-token' });
    assert.equal(wrong.status, 401);
    assert.equal(JSON.parse(wrong.body).error.reason, 'unauthenticated');
    assert.equal(JSON.parse(wrong.body).error.code, 'unauthorized');
    const unknown = await viaProxy(t, 'cl-does-not-exist', '/health', { port: 49983 });
    assert.equal(unknown.status, 502);
    assert.equal(JSON.parse(unknown.body).error.reason, 'capsule_unreachable');
    assert.equal(JSON.parse(unknown.body).error.code, 'invalid_state');
    const closed = await viaProxy(t, id, '/', { port: 9 });
    assert.equal(closed.status, 502);
    assert.equal(JSON.parse(closed.body).error.reason, 'bad_gateway');
    assert.equal(JSON.parse(closed.body).error.code, 'agent_error');
    assert.match(JSON.parse(closed.body).error.message, /port 9/);
    const noTarget = await viaProxy(t, id, '/hello', { headers: { [PROXY_HEADERS.capsulePort]: 'x' } });
    assert.equal(noTarget.status, 400);
    const wsWrong = await openRawWebSocket('127.0.0.1', t.agent.proxyPort, '/ws', { [PROXY_HEADERS.agentToken]: 'nope', [PROXY_HEADERS.capsuleId]: id, [PROXY_HEADERS.capsulePort]: '8080' });
    assert.match(wsWrong.statusLine, /^HTTP\/1\.1 401/);
    wsWrong.socket.destroy();
  });

  test('envd /health through the proxy: 200 while running, 502 while paused, 200 again after resume', async () => {
    const { id } = await capsuleWithServer();
    assert.equal((await viaProxy(t, id, '/health', { port: 49983 })).status, 200);
    await t.client.pause({ capsuleId: id });
    const paused = await viaProxy(t, id, '/health', { port: 49983 });
    assert.equal(paused.status, 502);
    assert.deepEqual(JSON.parse(paused.body).error.details, { capsuleId: id, status: 'paused' });
    await t.client.resume({ capsuleId: id });
    assert.equal((await viaProxy(t, id, '/health', { port: 49983 })).status, 200);
  });

  test('proxied traffic keeps an auto-pause capsule running; once it stops, the capsule is paused', async () => {
    const { id } = await capsuleWithServer({ autoPauseSec: 2 });
    for (let i = 0; i < 8; i++) {
      assert.equal((await viaProxy(t, id, '/hello')).status, 200);
      await sleep(500);
    }
    assert.equal((await t.client.get({ capsuleId: id })).capsule?.status, CapsuleStatus.RUNNING, 'proxied for 4 s: still running');
    await waitForStatus(t, id, CapsuleStatus.PAUSED, 6000);
  });

  test('pause drains: an in-flight request finishes within the grace, a hanging one and a WebSocket are force-closed, the pause succeeds', async () => {
    const { id, address } = await capsuleWithServer();
    const slow = viaProxy(t, id, '/slow?ms=600');
    const hang = viaProxy(t, id, '/hang').then(
      () => 'answered',
      (err: Error) => `aborted: ${err.message}`,
    );
    const ws = await wsViaProxy(t, id);
    const wsClosed = closedSocket(ws.socket);
    await sleep(100);
    assert.equal(t.agent.connections.count(id), 3);
    const started = Date.now();
    await t.client.pause({ capsuleId: id });
    const pauseMs = Date.now() - started;
    const done = await slow;
    assert.equal(done.status, 200, 'the in-flight request completed');
    assert.equal(done.body, 'slow done');
    assert.match(await hang, /^aborted/, 'the hanging request was cut, not answered');
    await wsClosed;
    assert.ok(pauseMs >= GRACE_MS, `the pause waited for the grace (${pauseMs} ms)`);
    assert.equal((await t.client.get({ capsuleId: id })).capsule?.status, CapsuleStatus.PAUSED);
    assert.equal(t.agent.connections.count(id), 0);
    assert.deepEqual(await connectionsTo(address), [], 'no connection to the capsule is left open');
    await t.client.resume({ capsuleId: id });
    assert.equal((await viaProxy(t, id, '/hello')).status, 200, 'proxied again after the resume');
  });

  test('a pause with nothing in flight does not wait for the grace', async () => {
    const { id } = await capsuleWithServer();
    const started = Date.now();
    await t.client.pause({ capsuleId: id });
    assert.ok(Date.now() - started < GRACE_MS + 2000, `pause took ${Date.now() - started} ms`);
    await t.client.resume({ capsuleId: id });
  });

  test('destroy closes the capsule’s proxied connections at once', async () => {
    const { id, address } = await capsuleWithServer();
    const hang = viaProxy(t, id, '/hang').then(
      () => 'answered',
      () => 'aborted',
    );
    const ws = await wsViaProxy(t, id);
    const wsClosed = closedSocket(ws.socket);
    await sleep(100);
    await t.client.destroy({ capsuleId: id });
    assert.equal(await hang, 'aborted');
    await wsClosed;
    assert.equal(t.agent.connections.count(id), 0);
    assert.deepEqual(await connectionsTo(address), []);
    const gone = await viaProxy(t, id, '/hello');
    assert.equal(gone.status, 502);
  });

  test('no proxied exchange is left open', () => {
    assert.equal(t.agent.connections.total(), 0);
  });
});

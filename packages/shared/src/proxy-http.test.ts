/**
 * forwardHttpExchange against real sockets on 127.0.0.1: an upstream that answers
 * `101 Switching Protocols` to a plain GET gets the client a 502 at once, not a hang.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { forwardHttpExchange, forwardHeaders } from './proxy-http.js';

function listen(server: Server | ReturnType<typeof createTcpServer>): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

test('an upstream 101 to a request without Upgrade is a 502 at once', async () => {
  // The misbehaving upstream: answers every request head with a bare 101 and keeps the socket open.
  const upstream = createTcpServer((s) => {
    s.on('error', () => {});
    s.once('data', () => s.write('HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: whatever\r\n\r\n'));
  });
  const upstreamPort = await listen(upstream);
  const done: Array<number | 'aborted'> = [];
  const front = createHttpServer((req, res) =>
    forwardHttpExchange({
      req,
      res,
      upstream: { host: '127.0.0.1', port: upstreamPort, agent: new Agent() },
      headers: forwardHeaders(req.rawHeaders),
      onData: () => {},
      retry: () => false,
      failure: (err) => {
        throw err;
      },
      onDone: (status) => done.push(status),
    }),
  );
  const frontPort = await listen(front);
  try {
    const started = Date.now();
    const res = await fetch(`http://127.0.0.1:${frontPort}/`, { signal: AbortSignal.timeout(5000) });
    assert.equal(res.status, 502);
    const body = (await res.json()) as { error: { code: string; reason: string; message: string } };
    assert.equal(body.error.reason, 'bad_gateway');
    assert.equal(body.error.code, 'agent_error');
    assert.match(body.error.message, /101/);
    assert.ok(Date.now() - started < 2000, `answered in ${Date.now() - started} ms`);
    for (let i = 0; i < 50 && done.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(done, [502]);
  } finally {
    front.closeAllConnections();
    await new Promise((r) => front.close(r));
    await new Promise((r) => upstream.close(r));
  }
});

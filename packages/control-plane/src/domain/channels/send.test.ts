/**
 * The SSRF guard of channel delivery (no server needed for the refusals: they happen before
 * or at connect): with WRENN_CHANNEL_ALLOW_PRIVATE off, loopback, private, link-local and
 * mapped addresses are refused, by IP literal and by a name that resolves to one; with it on,
 * a receiver on 127.0.0.1 is reached.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isNonPublicAddress, sendRequest } from './send.js';

test('non-public addresses are recognised, public ones are not', () => {
  for (const a of ['127.0.0.1', '10.1.2.3', '172.16.0.1', '172.31.255.255', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '::1', '::', 'fe80::1', 'fd00::1', '::ffff:127.0.0.1', '::ffff:10.0.0.1', 'not-an-ip']) {
    assert.equal(isNonPublicAddress(a), true, a);
  }
  for (const a of ['1.1.1.1', '8.8.8.8', '172.32.0.1', '2606:4700:4700::1111', '::ffff:1.1.1.1']) assert.equal(isNonPublicAddress(a), false, a);
});

test('delivery refuses private targets unless allowed, and reaches them when allowed', async () => {
  let hits = 0;
  const server = createServer((_req, res) => {
    hits++;
    res.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  try {
    const req = (host: string) => ({ method: 'POST' as const, url: `http://${host}:${port}/x`, headers: { 'content-type': 'application/json' }, body: '{}' });
    for (const host of ['127.0.0.1', 'localhost', '[::ffff:127.0.0.1]', '10.255.255.1']) {
      await assert.rejects(sendRequest(req(host), { allowPrivate: false, timeoutMs: 2000 }), /non-public/, host);
    }
    assert.equal(hits, 0, 'nothing reached the private receiver');
    assert.deepEqual(await sendRequest(req('127.0.0.1'), { allowPrivate: true, timeoutMs: 2000 }), { status: 200 });
    assert.equal(hits, 1);
  } finally {
    server.close();
  }
});

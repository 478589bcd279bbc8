/**
 * Which requests the port proxy takes (host name under WRENN_PROXY_DOMAIN, or E2B's
 * headers) and which headers travel to the next hop; pure functions, no server.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { forwardHeaders } from '@wrenn/shared/proxy';
import { proxyAddress } from '../src/proxy/proxy-address.js';

const req = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

test('a host name {port}-{id}.{domain} names the capsule and port, with or without the server port', () => {
  assert.deepEqual(proxyAddress(req({ host: '49983-cl-abc123.wrenn.example.com' }), 'wrenn.example.com'), { capsuleId: 'cl-abc123', port: 49983 });
  assert.deepEqual(proxyAddress(req({ host: '3000-CL-ABC.Wrenn.Example.com:8080' }), 'wrenn.example.com'), { capsuleId: 'cl-abc', port: 3000 });
});

test('the API’s own host names, other domains and malformed labels are not proxied', () => {
  const domain = 'wrenn.example.com';
  for (const host of ['wrenn.example.com', 'api.wrenn.example.com', '3000-cl-a.other.com', 'x.3000-cl-a.wrenn.example.com', '99999-cl-a.wrenn.example.com', '127.0.0.1:8080', '']) {
    assert.equal(proxyAddress(req({ host }), domain), undefined, host);
  }
  assert.equal(proxyAddress(req({ host: '3000-cl-a.wrenn.example.com' }), undefined), undefined, 'no domain configured: host names are not proxied');
});

test('E2B’s headers name the capsule and port whatever the host; half or malformed headers are a 400', () => {
  assert.deepEqual(proxyAddress(req({ host: '127.0.0.1:8080', 'e2b-sandbox-id': 'cl-x1', 'e2b-sandbox-port': '49983' }), undefined), { capsuleId: 'cl-x1', port: 49983 });
  const bad: Array<Record<string, string>> = [
    { 'e2b-sandbox-id': 'cl-x1' },
    { 'e2b-sandbox-port': '80' },
    { 'e2b-sandbox-id': 'cl-x1', 'e2b-sandbox-port': '0' },
    { 'e2b-sandbox-id': '../x', 'e2b-sandbox-port': '80' },
  ];
  for (const h of bad) {
    assert.throws(() => proxyAddress(req(h), 'wrenn.example.com'), (err: { code?: string }) => err.code === 'invalid_argument', JSON.stringify(h));
  }
});

test('per-hop headers and those named by Connection stay behind; an Upgrade keeps its own; repeats and case are kept', () => {
  const raw = ['Host', 'a', 'Connection', 'keep-alive, X-Secret', 'X-Secret', 's', 'Keep-Alive', 't=5', 'Set-Cookie', '1', 'set-cookie', '2', 'Transfer-Encoding', 'chunked', 'Upgrade', 'websocket', 'X-Wrenn-Agent-Token', 'spoof'];
  assert.deepEqual(forwardHeaders(raw, { drop: new Set(['x-wrenn-agent-token']) }), ['Host', 'a', 'Set-Cookie', '1', 'set-cookie', '2']);
  assert.deepEqual(forwardHeaders(raw, { upgrade: true, drop: new Set(['x-wrenn-agent-token']), add: [['X-Added', 'v']] }), [
    'Host',
    'a',
    'Set-Cookie',
    '1',
    'set-cookie',
    '2',
    'Connection',
    'Upgrade',
    'Upgrade',
    'websocket',
    'X-Added',
    'v',
  ]);
});

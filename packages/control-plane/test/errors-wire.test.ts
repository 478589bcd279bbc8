/**
 * Every refusal of the API has one shape, `{"error":{"code","reason","message"}}`, with
 * `code` in Wrenn's published vocabulary and the precise code in `reason`, including the
 * refusals Fastify and node's HTTP parser make before any route runs.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { API_ERROR_CODES } from '@wrenn/shared';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

function assertWire(body: any, code: string, reason: string, what: string): void {
  assert.equal(typeof body, 'object', `${what}: a JSON body, got ${JSON.stringify(body)}`);
  assert.deepEqual(Object.keys(body), ['error'], what);
  assert.ok((API_ERROR_CODES as readonly string[]).includes(body.error.code), `${what}: ${body.error.code} is a published code`);
  assert.equal(body.error.code, code, what);
  assert.equal(body.error.reason, reason, what);
  assert.equal(typeof body.error.message, 'string', what);
  assert.ok(body.error.message.length > 0, what);
}

/** Sends raw bytes and returns the whole answer (the server closes after an error). */
function raw(port: number, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let out = '';
    socket.setEncoding('utf8');
    socket.on('data', (d) => (out += d));
    socket.on('end', () => resolve(out));
    socket.on('error', reject);
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.write(request);
  });
}

describe('error wire format', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  before(async () => {
    t = await startControlPlane();
    team = await seedTeam(t.cp);
  });
  after(async () => {
    await t?.close();
  });

  test('a route refusal: code from the published vocabulary, precise reason', async () => {
    const r = await t.api('GET', '/v1/capsules/cl-0000000000000000', { auth: team.apiKey });
    assert.equal(r.status, 404);
    assertWire(r.body, 'not_found', 'capsule_not_found', 'unknown capsule');
    const unauth = await t.api('GET', '/v1/capsules');
    assert.equal(unauth.status, 401);
    assertWire(unauth.body, 'unauthorized', 'unauthenticated', 'no credentials');
  });

  test('schema validation: 400 invalid_request', async () => {
    const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { memory_mb: 'lots' } });
    assert.equal(r.status, 400);
    assertWire(r.body, 'invalid_request', 'invalid_argument', 'bad body');
  });

  test('a body that is not JSON: 400 in the same shape', async () => {
    const r = await fetch(`${t.url}/v1/capsules`, { method: 'POST', headers: { 'x-api-key': team.apiKey, 'content-type': 'application/json' }, body: '{"template":' });
    assert.equal(r.status, 400);
    assertWire(await r.json(), 'invalid_request', 'invalid_argument', 'bad JSON');
  });

  test('a content-type the route does not take: 415 in the same shape', async () => {
    const r = await fetch(`${t.url}/v1/capsules`, { method: 'POST', headers: { 'x-api-key': team.apiKey, 'content-type': 'application/x-nope' }, body: 'x' });
    assert.equal(r.status, 415);
    assertWire(await r.json(), 'invalid_request', 'unsupported_media_type', 'unknown content-type');
  });

  test('a body over the limit: 413 in the same shape', async () => {
    const r = await fetch(`${t.url}/v1/capsules`, {
      method: 'POST',
      headers: { 'x-api-key': team.apiKey, 'content-type': 'application/json' },
      body: JSON.stringify({ template: 'x'.repeat(3 * 1024 * 1024) }),
    });
    assert.equal(r.status, 413);
    assertWire(await r.json(), 'invalid_request', 'payload_too_large', 'huge body');
  });

  test('an unknown route (404) and a path parameter over the router limit, in the same shape', async () => {
    const r = await t.api('GET', '/v1/no-such-thing');
    assert.equal(r.status, 404);
    assertWire(r.body, 'not_found', 'not_found', 'unknown route');
    // Past the router's parameter limit: refused by the router (404) or the URL checks (400), in the same shape either way.
    const long = await t.api('GET', `/v1/capsules/cl-${'a'.repeat(2000)}`, { auth: team.apiKey });
    assert.ok(long.status === 404 || long.status === 400, String(long.status));
    if (long.status === 404) assertWire(long.body, 'not_found', 'not_found', 'over-long id');
    else assertWire(long.body, 'invalid_request', 'invalid_argument', 'over-long id');
  });

  test('a URL that does not decode: 400 in the same shape', async () => {
    const answer = await raw(t.port, 'GET /v1/capsules/%E0%A4%A HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n');
    assert.match(answer, /^HTTP\/1\.1 400 /);
    assertWire(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)), 'invalid_request', 'invalid_argument', 'bad URL');
  });

  test('headers node cannot parse, and headers over its limit: refused in the same shape', async () => {
    const bad = await raw(t.port, 'GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nbad header line\r\n\r\n');
    assert.match(bad, /^HTTP\/1\.1 400 /);
    assertWire(JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4)), 'invalid_request', 'invalid_argument', 'malformed header');
    const big = await raw(t.port, `GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\nx-big: ${'a'.repeat(32 * 1024)}\r\n\r\n`);
    assert.match(big, /^HTTP\/1\.1 431 /);
    assertWire(JSON.parse(big.slice(big.indexOf('\r\n\r\n') + 4)), 'invalid_request', 'headers_too_large', 'huge header');
  });
});

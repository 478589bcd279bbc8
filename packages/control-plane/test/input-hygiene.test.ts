/**
 * Input hygiene: every string field refuses NUL and malformed UTF-8 with 400
 * invalid_argument (names, metadata, envs, exec args, ids in paths, query strings); bodies
 * are never type-coerced; malformed requests answer in the API's error shape.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { ExecStartMessage, PtyStartMessage, expectMessage } from '../src/ws/messages.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

/** POST/PATCH with a raw body (bytes the harness's JSON.stringify could not produce). */
async function rawJson(t: TestControlPlane, method: string, path: string, auth: string, body: Buffer | string): Promise<{ status: number; body: any }> {
  const res = await fetch(`${t.url}${path}`, { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${auth}` }, body });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) };
}

function assert400(r: { status: number; body: any }, message?: RegExp): void {
  assert.equal(r.status, 400, JSON.stringify(r.body));
  assert.equal(r.body.error.reason, 'invalid_argument');
  assert.equal(r.body.error.code, 'invalid_request');
  if (message) assert.match(r.body.error.message, message);
}

describe('input hygiene', () => {
  let t: TestControlPlane;
  let owner: SeededTeam;

  before(async () => {
    t = await startControlPlane();
    owner = await seedTeam(t.cp);
  });
  after(async () => {
    await t?.close();
  });

  test('a NUL in a team, key or user name is a 400 naming the field, and nothing is stored', async () => {
    assert400(await t.api('POST', '/v1/teams', { auth: owner.jwt, body: { name: 'bad\u0000team' } }), /name contains a NUL/);
    assert400(await t.api('POST', '/v1/api-keys', { auth: owner.jwt, body: { name: 'k\u0000' } }), /name contains a NUL/);
    assert400(await t.api('PATCH', '/v1/me', { auth: owner.jwt, body: { name: '\u0000' } }), /name contains a NUL/);
    const teams = await t.cp.ctx.db.selectFrom('teams').select('name').execute();
    assert.ok(teams.every((x) => !x.name.includes('\u0000')));
  });

  test('NUL in capsule metadata (value or key), create envs, exec args and exec envs: 400', async () => {
    assert400(await t.api('POST', '/v1/capsules', { auth: owner.apiKey, body: { metadata: { a: 'x\u0000' } } }), /metadata\.a contains a NUL/);
    assert400(await t.api('POST', '/v1/capsules', { auth: owner.apiKey, body: { metadata: { 'k\u0000': 'x' } } }), /key .* contains a NUL/);
    assert400(await t.api('POST', '/v1/capsules', { auth: owner.apiKey, body: { envs: { A: 'x\u0000y' } } }), /envs\.A contains a NUL/);
    assert400(await t.api('POST', '/v1/capsules/cl-nope/exec', { auth: owner.apiKey, body: { cmd: 'echo', args: ['a\u0000b'] } }), /args\[0\] contains a NUL/);
    assert400(await t.api('POST', '/v1/capsules/cl-nope/exec', { auth: owner.apiKey, body: { cmd: 'env', envs: { X: '\u0000' } } }), /envs\.X contains a NUL/);
  });

  test('a lone surrogate escape and raw invalid UTF-8 bytes in a JSON body: 400', async () => {
    assert400(await rawJson(t, 'POST', '/v1/teams', owner.jwt, '{"name":"a\\ud800b"}'), /not valid Unicode/);
    assert400(await rawJson(t, 'POST', '/v1/teams', owner.jwt, Buffer.concat([Buffer.from('{"name":"a'), Buffer.from([0xff, 0xfe]), Buffer.from('"}')])), /not valid UTF-8/);
    // A well-formed pair (an emoji) and other Unicode are fine.
    const ok = await t.api('POST', '/v1/teams', { auth: owner.jwt, body: { name: 'équipe 🐦' } });
    assert.equal(ok.status, 201, JSON.stringify(ok.body));
    assert.equal(ok.body.name, 'équipe 🐦');
  });

  test('ids in paths and query strings with %00 or invalid UTF-8 escapes: 400, not 500', async () => {
    for (const path of ['/v1/capsules/cl-%00', '/v1/capsules/cl-%FF%FE', '/v1/teams/team-%00/members']) {
      const r = await t.api('GET', path, { auth: owner.jwt });
      assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
      assert400(r);
    }
    assert400(await t.api('GET', '/v1/capsules?status=run%00ning', { auth: owner.apiKey }));
    // Over-long ids: the API's error shape (the schema's 400 up to the router's limit, 404 past it).
    for (const len of [300, 5000]) {
      const r = await t.api('GET', `/v1/capsules/cl-${'x'.repeat(len)}`, { auth: owner.apiKey });
      assert.ok(r.status === 400 || r.status === 404, `${len}: ${r.status}`);
      assert.equal(typeof r.body.error?.code, 'string', JSON.stringify(r.body).slice(0, 200));
    }
  });

  test('bodies are not type-coerced: cmd 123, args "x", timeout_sec "30", vcpus "1" are 400', async () => {
    assert400(await t.api('POST', '/v1/capsules/cl-nope/exec', { auth: owner.apiKey, body: { cmd: 123 } }), /cmd/);
    assert400(await t.api('POST', '/v1/capsules/cl-nope/exec', { auth: owner.apiKey, body: { cmd: 'echo', args: 'x' } }), /args/);
    assert400(await t.api('POST', '/v1/capsules/cl-nope/exec', { auth: owner.apiKey, body: { cmd: 'echo', timeout_sec: '30' } }), /timeout_sec/);
    assert400(await t.api('POST', '/v1/capsules', { auth: owner.apiKey, body: { vcpus: '1' } }), /vcpus/);
    assert400(await t.api('POST', '/v1/capsules', { auth: owner.apiKey, body: { auto_resume: 'true' } }), /auto_resume/);
    // Query strings are text on the wire: their numbers still convert (and are checked).
    const admin = await seedTeam(t.cp, { isAdmin: true });
    assert.equal((await t.api('GET', '/v1/admin/users?limit=5', { auth: admin.jwt })).status, 200);
    assert400(await t.api('GET', '/v1/admin/users?limit=five', { auth: admin.jwt }));
  });

  test('a malformed HTTP request answers 400 in the API error shape', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const s = connect(t.port, '127.0.0.1', () => s.write('GET /v1/health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n'));
      let text = '';
      s.setEncoding('utf8');
      s.on('data', (c: string) => (text += c));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    assert.match(reply, /^HTTP\/1\.1 400 /);
    const body = JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4));
    assert.equal(body.error.reason, 'invalid_argument');
    assert.equal(body.error.code, 'invalid_request');
    assert.equal(typeof body.error.message, 'string');
  });
});

test('WebSocket start messages refuse NUL in args, envs and cwd like the HTTP routes', () => {
  const refused = (value: Record<string, unknown>) => () => expectMessage({ value: value as { type: string } }, ExecStartMessage);
  assert.throws(refused({ type: 'start', cmd: 'echo', args: ['a\u0000'] }), (e: Error & { code?: string }) => e.code === 'invalid_argument' && /args\[0\] contains a NUL/.test(e.message));
  assert.throws(refused({ type: 'start', cmd: 'env', envs: { A: '\u0000' } }), /envs\.A contains a NUL/);
  assert.throws(refused({ type: 'start', cmd: 'ls', cwd: '/tmp\u0000' }), /cwd contains a NUL/);
  assert.throws(() => expectMessage({ value: { type: 'start', cols: 80, rows: 24, cmd: 'sh\ud800' } as { type: string } }, PtyStartMessage), /not valid Unicode/);
  assert.equal(expectMessage({ value: { type: 'start', cmd: 'echo', args: ['é 🐦'] } as { type: string } }, ExecStartMessage).args?.[0], 'é 🐦');
});

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { JwtIssuer } from '../src/infra/secrets.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

const b64url = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A raw HTTP/1.1 request with headers fetch refuses to send (Upgrade, Connection). */
function rawRequest(
  port: number,
  path: string,
  method: string,
  headers: Record<string, string>,
): Promise<{ status: number; body: string; upgraded: boolean }> {
  return new Promise((resolve, reject) => {
    // A fresh connection each time (agent: false): the server closes a refused upgrade's socket after answering.
    const req = httpRequest({ host: '127.0.0.1', port, path, method, agent: false, headers: { 'Content-Length': '0', ...headers } });
    req.setTimeout(10_000, () => req.destroy(new Error('no answer within 10 s')));
    req.on('upgrade', (res, socket) => {
      socket.destroy();
      resolve({ status: res.statusCode ?? 0, body: '', upgraded: true });
    });
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, upgraded: false }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('authentication edge cases', () => {
  let t: TestControlPlane;
  let owner: SeededTeam;
  let member: SeededTeam;
  let admin: SeededTeam;

  before(async () => {
    t = await startControlPlane();
    owner = await seedTeam(t.cp);
    member = await seedTeam(t.cp, { role: 'member' });
    admin = await seedTeam(t.cp, { isAdmin: true });
  });
  after(async () => {
    await t?.close();
  });

  test('no credentials → 401 unauthenticated on user, key and admin routes', async () => {
    for (const [method, path] of [
      ['GET', '/v1/me'],
      ['POST', '/v1/teams'],
      ['GET', '/v1/audit-logs'],
      ['GET', '/v1/admin/users'],
    ] as const) {
      const r = await t.api(method, path, method === 'POST' ? { body: { name: 'x' } } : {});
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.equal(r.body.error.reason, 'unauthenticated');
      assert.equal(r.body.error.code, 'unauthorized');
      assert.match(r.body.error.message, /authentication required/);
    }
  });

  test('a malformed API key → 401 naming the expected format', async () => {
    for (const key of ['wrn_123', `wrn_${'g'.repeat(32)}`, 'not-a-key']) {
      const r = await t.api('GET', '/v1/audit-logs', { headers: { 'x-api-key': key } });
      assert.equal(r.status, 401, key);
      assert.match(r.body.error.message, /malformed API key/);
    }
  });

  test('an unknown but well-formed API key → 401', async () => {
    const r = await t.api('GET', '/v1/audit-logs', { auth: `wrn_${randomBytes(16).toString('hex')}` });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /unknown or revoked/);
  });

  test('a revoked API key → 401 from the next call on', async () => {
    const created = await t.api('POST', '/v1/api-keys', { auth: owner.jwt, body: { name: 'to revoke' } });
    assert.equal(created.status, 201);
    assert.equal((await t.api('GET', '/v1/audit-logs', { auth: created.body.key })).status, 200);
    assert.equal((await t.api('DELETE', `/v1/api-keys/${created.body.id}`, { auth: owner.jwt })).status, 204);
    const r = await t.api('GET', '/v1/audit-logs', { auth: created.body.key });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /revoked/);
  });

  test('an expired JWT → 401 saying it expired', async () => {
    const token = await t.cp.ctx.jwt.sign({ kind: 'user', user: owner.userId, team: owner.teamId, role: 'owner', is_admin: false }, 1);
    assert.equal((await t.api('GET', '/v1/me', { auth: token })).status, 200);
    await new Promise((r) => setTimeout(r, 2100));
    const r = await t.api('GET', '/v1/me', { auth: token });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /expired/);
  });

  test('an `alg: none` JWT with valid-looking claims → 401', async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { kind: 'user', user: admin.userId, team: admin.teamId, role: 'owner', is_admin: true, iss: 'wrenn', iat: now, exp: now + 3600 };
    for (const header of [{ alg: 'none' }, { alg: 'none', typ: 'JWT' }, { alg: 'None' }]) {
      const token = `${b64url(header)}.${b64url(claims)}.`;
      const r = await t.api('GET', '/v1/admin/users', { auth: token });
      assert.equal(r.status, 401, JSON.stringify(header));
      assert.equal(r.body.error.reason, 'unauthenticated');
      assert.equal(r.body.error.code, 'unauthorized');
    }
  });

  test('a JWT signed with another secret → 401', async () => {
    const forger = new JwtIssuer(randomBytes(32).toString('hex'), 3600);
    const token = await forger.sign({ kind: 'user', user: admin.userId, team: admin.teamId, role: 'owner', is_admin: true });
    const r = await t.api('GET', '/v1/me', { auth: token });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /invalid token/);
  });

  test('an API key on a user-token route → 403 saying a user token is needed', async () => {
    for (const [method, path, body] of [
      ['POST', '/v1/api-keys', { name: 'k' }],
      ['GET', '/v1/me', undefined],
      ['GET', '/v1/teams', undefined],
    ] as const) {
      const r = await t.api(method, path, { auth: owner.apiKey, ...(body ? { body } : {}) });
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.equal(r.body.error.reason, 'permission_denied');
      assert.equal(r.body.error.code, 'forbidden');
      assert.match(r.body.error.message, /user token/);
    }
  });

  test('a member who is not an administrator → 403 on /admin/users; an administrator → 200', async () => {
    const r = await t.api('GET', '/v1/admin/users', { auth: member.jwt });
    assert.equal(r.status, 403);
    assert.match(r.body.error.message, /administrators/);
    const ok = await t.api('GET', '/v1/admin/users', { auth: admin.jwt });
    assert.equal(ok.status, 200);
    assert.ok(ok.body.users.some((u: { id: string }) => u.id === member.userId));
  });

  test('a JWT of a user disabled since it was issued → 401', async () => {
    const u = await seedTeam(t.cp);
    assert.equal((await t.api('PATCH', `/v1/admin/users/${u.userId}`, { auth: admin.jwt, body: { active: false } })).status, 200);
    const r = await t.api('GET', '/v1/me', { auth: u.jwt });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /disabled/);
  });

  test('(C1) a spoofed Upgrade: websocket header on a normal route without credentials → 401, no upgrade', async () => {
    for (const [method, path] of [
      ['GET', '/v1/me'],
      ['GET', '/v1/api-keys'],
      ['POST', '/v1/teams'],
      ['GET', '/api/v1/admin/users'],
    ] as const) {
      const r = await rawRequest(t.port, path, method, {
        Connection: 'Upgrade',
        Upgrade: 'websocket',
        'Sec-WebSocket-Version': '13',
        'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      });
      assert.equal(r.upgraded, false, `${method} ${path} must not switch protocols`);
      assert.equal(r.status, 401, `${method} ${path}`);
      assert.equal(JSON.parse(r.body).error.reason, 'unauthenticated');
      assert.equal(JSON.parse(r.body).error.code, 'unauthorized');
    }
  });

  test('(C1) a spoofed Upgrade header with a forged token is refused the same way', async () => {
    const now = Math.floor(Date.now() / 1000);
    const forged = `${b64url({ alg: 'none' })}.${b64url({ kind: 'user', user: admin.userId, team: admin.teamId, role: 'owner', is_admin: true, iss: 'wrenn', exp: now + 60 })}.`;
    const r = await rawRequest(t.port, '/v1/admin/users', 'GET', {
      Connection: 'Upgrade',
      Upgrade: 'websocket',
      'Sec-WebSocket-Version': '13',
      'Sec-WebSocket-Key': randomBytes(16).toString('base64'),
      Authorization: `Bearer ${forged}`,
    });
    assert.equal(r.upgraded, false);
    assert.equal(r.status, 401);
  });

  test('the same routes work under /api/v1/', async () => {
    const login = await t.api('POST', '/api/v1/auth/login', { body: { email: owner.email, password: owner.password } });
    assert.equal(login.status, 200);
    const me = await t.api('GET', '/api/v1/me', { auth: login.body.token });
    assert.equal(me.status, 200);
    assert.equal(me.body.user.id, owner.userId);
    assert.equal((await t.api('GET', '/api/v1/me')).status, 401);
    assert.equal((await t.api('POST', '/api/v1/api-keys', { auth: owner.apiKey, body: { name: 'k' } })).status, 403);
    assert.equal((await t.api('GET', '/api/v1/audit-logs', { auth: owner.apiKey })).status, 200);
  });
});

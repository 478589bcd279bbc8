/**
 * Account security: login and activation throttling (counted in the database, per email
 * and per client address, sliding window, 429 + Retry-After) and session revocation
 * (password change, logout-all, an administrator disabling or resetting a user; API keys
 * untouched; at once on the revoking replica, within WRENN_AUTH_CACHE_TTL_SEC elsewhere).
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { clientAddressKey } from '../src/domain/accounts/throttle.js';
import { loadControlPlaneConfig } from '../src/start/config.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const uniqueEmail = (tag: string): string => `${tag}-${randomBytes(4).toString('hex')}@example.test`;
/** A client address no other test uses (the control plane trusts X-Forwarded-For from loopback here). */
const freshIp = (): string => `10.${[...randomBytes(3)].join('.')}`;

type Reply = { status: number; body: any; headers: Headers };

function loginFrom(t: TestControlPlane, ip: string, email: string, password: string): Promise<Reply> {
  return t.api('POST', '/v1/auth/login', { body: { email, password }, headers: { 'x-forwarded-for': ip } });
}

function activateFrom(t: TestControlPlane, ip: string, token: string, password = 'activated pw'): Promise<Reply> {
  return t.api('POST', '/v1/auth/activate', { body: { token, password }, headers: { 'x-forwarded-for': ip } });
}

/** POST /v1/auth/login from a chosen loopback source address (the socket's peer, not a header). */
function loginFromSocket(port: number, localAddress: string, email: string, password: string, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const payload = JSON.stringify({ email, password });
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, localAddress, path: '/v1/auth/login', method: 'POST', agent: false, headers: { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(payload)), ...headers } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (text += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

function assertLocked(r: { status: number; body: any; headers?: Headers }, windowSec: number, message: RegExp): number {
  assert.equal(r.status, 429, JSON.stringify(r.body));
  assert.equal(r.body.error.reason, 'too_many_attempts');
  assert.equal(r.body.error.code, 'invalid_request');
  assert.match(r.body.error.message, message);
  const retryAfter = Number(r.headers?.get('retry-after'));
  assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= windowSec, `Retry-After ${r.headers?.get('retry-after')} within 1..${windowSec}`);
  assert.equal(r.body.error.details.retryAfterSec, retryAfter);
  return retryAfter;
}

describe('login throttling', () => {
  const MAX = 3;
  const ADDRESS_MAX = 5;
  const WINDOW_SEC = 900;
  let t: TestControlPlane;
  let admin: SeededTeam;

  before(async () => {
    t = await startControlPlane({ env: { WRENN_LOGIN_MAX_FAILURES: String(MAX), WRENN_LOGIN_MAX_FAILURES_PER_ADDRESS: String(ADDRESS_MAX), WRENN_TRUST_PROXY: 'loopback' } });
    admin = await seedTeam(t.cp, { isAdmin: true });
  });
  after(async () => {
    await t?.close();
  });

  test(`${MAX} wrong passwords → the next login is 429 with Retry-After, even with the right password`, async () => {
    const u = await seedTeam(t.cp);
    const ip = freshIp();
    for (let i = 0; i < MAX; i++) assert.equal((await loginFrom(t, ip, u.email, 'wrong password')).status, 401);
    assertLocked(await loginFrom(t, ip, u.email, 'wrong password'), WINDOW_SEC, /too many failed logins for this email: try again in \d+ s/);
    // The right password from a clean address: the email is locked, whoever asks.
    assertLocked(await loginFrom(t, freshIp(), u.email, u.password), WINDOW_SEC, /for this email/);
  });

  test(`${MAX} wrong current passwords on POST /me/password lock that user's password changes (429, even with the right one); another user is not affected`, async () => {
    const u = await seedTeam(t.cp);
    const other = await seedTeam(t.cp);
    const change = (who: SeededTeam, current: string) =>
      t.api('POST', '/v1/me/password', { auth: who.jwt, body: { current_password: current, new_password: 'a brand new password' } });
    for (let i = 0; i < MAX; i++) assert.equal((await change(u, 'a guess')).status, 403);
    assertLocked(await change(u, u.password), WINDOW_SEC, /too many wrong current passwords: try again in \d+ s/);
    // Nothing changed: the session and the old password still work.
    assert.equal((await t.api('GET', '/v1/me', { auth: u.jwt })).status, 200);
    assert.equal((await loginFrom(t, freshIp(), u.email, u.password)).status, 200);
    // Another user's wrong guesses count for them, not against u; their right password works.
    assert.equal((await change(other, 'a guess')).status, 403);
    assert.equal((await change(other, other.password)).status, 200);
  });

  test('an unknown email gets the same 401 as a wrong password, and locks the same way', async () => {
    const u = await seedTeam(t.cp);
    const unknown = uniqueEmail('nobody');
    const wrong = await loginFrom(t, freshIp(), u.email, 'wrong password');
    const missing = await loginFrom(t, freshIp(), unknown, 'wrong password');
    assert.equal(wrong.status, 401);
    assert.equal(missing.status, 401);
    assert.deepEqual(missing.body, wrong.body);
    for (let i = 1; i < MAX; i++) {
      assert.equal((await loginFrom(t, freshIp(), u.email, 'wrong password')).status, 401);
      assert.equal((await loginFrom(t, freshIp(), unknown, 'wrong password')).status, 401);
    }
    const lockedKnown = await loginFrom(t, freshIp(), u.email, 'wrong password');
    const lockedUnknown = await loginFrom(t, freshIp(), unknown, 'wrong password');
    assertLocked(lockedKnown, WINDOW_SEC, /for this email/);
    assertLocked(lockedUnknown, WINDOW_SEC, /for this email/);
    const shape = (b: any) => ({ ...b.error, message: b.error.message.replace(/\d+/g, 'N'), details: Object.keys(b.error.details) });
    assert.deepEqual(shape(lockedUnknown.body), shape(lockedKnown.body));
  });

  test('a locked email does not lock another email logging in from another address', async () => {
    const victim = await seedTeam(t.cp);
    const other = await seedTeam(t.cp);
    const attacker = freshIp();
    for (let i = 0; i < MAX; i++) await loginFrom(t, attacker, victim.email, 'guess');
    assertLocked(await loginFrom(t, attacker, victim.email, 'guess'), WINDOW_SEC, /./);
    const ok = await loginFrom(t, freshIp(), other.email, other.password);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
    assert.equal(ok.body.user.id, other.userId);
  });

  test(`${ADDRESS_MAX} failures from one address lock it for guesses, not for a correct password of an email with no failures`, async () => {
    const u = await seedTeam(t.cp);
    const sprayer = freshIp();
    // The per-address limit is its own, higher one: MAX failures do not lock the address.
    for (let i = 0; i < ADDRESS_MAX; i++) assert.equal((await loginFrom(t, sprayer, uniqueEmail('spray'), 'password1')).status, 401, `spray ${i + 1}`);
    assertLocked(await loginFrom(t, sprayer, uniqueEmail('spray'), 'password1'), WINDOW_SEC, /too many failed logins from your address/);
    // A wrong password for a clean email is checked but refused as locked (the address learns nothing).
    assertLocked(await loginFrom(t, sprayer, u.email, 'wrong password'), WINDOW_SEC, /from your address/);
    // That failure now counts against the email: the shared address no longer lets it through.
    const v = await seedTeam(t.cp);
    const ok = await loginFrom(t, sprayer, v.email, v.password);
    assert.equal(ok.status, 200, `a user behind the locked address logs in: ${JSON.stringify(ok.body)}`);
    assertLocked(await loginFrom(t, sprayer, u.email, u.password), WINDOW_SEC, /from your address/);
    assert.equal((await loginFrom(t, freshIp(), u.email, u.password)).status, 200);
  });

  test("a successful login clears its email's failures", async () => {
    const u = await seedTeam(t.cp);
    const first = freshIp();
    for (let i = 0; i < MAX - 1; i++) assert.equal((await loginFrom(t, first, u.email, 'wrong password')).status, 401);
    assert.equal((await loginFrom(t, first, u.email, u.password)).status, 200);
    // Without the reset the email would have MAX - 1 + MAX - 1 ≥ MAX failures by now.
    const second = freshIp();
    for (let i = 0; i < MAX - 1; i++) assert.equal((await loginFrom(t, second, u.email, 'wrong password')).status, 401, `failure ${i + 1} after the reset`);
    assert.equal((await loginFrom(t, second, u.email, u.password)).status, 200);
  });

  test('a burst of parallel guesses checks at most the limit: the rest are refused unchecked', async () => {
    const u = await seedTeam(t.cp);
    const results = await Promise.all(Array.from({ length: 12 }, () => loginFrom(t, freshIp(), u.email, 'parallel guess')));
    const statuses = results.map((r) => r.status);
    assert.ok(statuses.every((s) => s === 401 || s === 429), statuses.join(','));
    const checkedInBurst = statuses.filter((s) => s === 401).length;
    assert.ok(checkedInBurst <= MAX, `at most ${MAX} checked: ${statuses.join(',')}`);
    // Attempts that overlap may all be refused (each counts the others in flight); what was
    // checked stays counted, so the burst and later guesses are checked MAX times in all.
    let checkedAfter = 0;
    for (let i = 0; i <= MAX && (await loginFrom(t, freshIp(), u.email, 'sequential guess')).status === 401; i++) checkedAfter++;
    assert.equal(checkedInBurst + checkedAfter, MAX);
    assertLocked(await loginFrom(t, freshIp(), u.email, u.password), WINDOW_SEC, /for this email/);
  });

  test('bad activation tokens lock the address; a good token from another address still works', async () => {
    const created = await t.api('POST', '/v1/admin/users', { auth: admin.jwt, body: { email: uniqueEmail('invited') } });
    assert.equal(created.status, 201);
    const guesser = freshIp();
    for (let i = 0; i < MAX; i++) assert.equal((await activateFrom(t, guesser, `wact_${randomBytes(24).toString('base64url')}`)).status, 401);
    assertLocked(await activateFrom(t, guesser, created.body.activation_token), WINDOW_SEC, /too many invalid activation tokens from your address/);
    const ok = await activateFrom(t, freshIp(), created.body.activation_token);
    assert.equal(ok.status, 200, JSON.stringify(ok.body));
  });

  test('the OpenAPI document has logout-all, the admin reset, the password change session and the 429s', async () => {
    const doc = (await t.api('GET', '/openapi.json')).body;
    const login = doc.paths['/v1/auth/login'].post;
    assert.ok(login.responses['429'], 'login documents 429');
    assert.ok(login.responses['429'].headers['Retry-After'], 'with Retry-After');
    assert.ok(doc.paths['/v1/auth/activate'].post.responses['429']);
    assert.ok(doc.paths['/v1/me/password'].post.responses['429'].headers['Retry-After'], 'the password change documents its 429');
    assert.ok(doc.paths['/v1/auth/logout-all'].post.responses['204']);
    assert.ok(doc.paths['/v1/admin/users/{id}/reset-password'].post.responses['200']);
    assert.ok(doc.paths['/v1/me/password'].post.responses['200'].content['application/json'].schema.properties.token);
  });
});

describe('login throttling: window and storage', () => {
  const MAX = 2;
  const WINDOW_SEC = 2;
  let t: TestControlPlane;

  before(async () => {
    t = await startControlPlane({ env: { WRENN_LOGIN_MAX_FAILURES: String(MAX), WRENN_LOGIN_WINDOW_SEC: String(WINDOW_SEC), WRENN_TRUST_PROXY: 'loopback' } });
  });
  after(async () => {
    await t?.close();
  });

  test('a locked email is let in once Retry-After has passed, however often it was tried meanwhile', async () => {
    const u = await seedTeam(t.cp);
    for (let i = 0; i < MAX; i++) assert.equal((await loginFrom(t, freshIp(), u.email, 'wrong password')).status, 401);
    const retryAfter = assertLocked(await loginFrom(t, freshIp(), u.email, u.password), WINDOW_SEC, /for this email/);
    const until = Date.now() + retryAfter * 1000;
    // Refused attempts are not failures: they do not push the unlock further away.
    while (Date.now() < until - 500) {
      assert.equal((await loginFrom(t, freshIp(), u.email, 'still guessing')).status, 429);
      await sleep(200);
    }
    await sleep(Math.max(0, until - Date.now()) + 100);
    assert.equal((await loginFrom(t, freshIp(), u.email, u.password)).status, 200);
  });

  test('failures older than the window are deleted on a later write', async () => {
    const stale = { id: `stale-${randomBytes(4).toString('hex')}`, scope: 'login_email' as const, key: uniqueEmail('stale') };
    await t.cp.ctx.db.insertInto('auth_failures').values({ ...stale, failed_at: new Date(Date.now() - 3600_000) }).execute();
    await sleep(WINDOW_SEC * 1000 + 100); // pruning runs at most once per window (or minute) per replica
    const email = uniqueEmail('fresh');
    assert.equal((await loginFrom(t, freshIp(), email, 'wrong password')).status, 401);
    const rows = await t.cp.ctx.db.selectFrom('auth_failures').select(['id', 'key']).where('key', 'in', [stale.key, email]).execute();
    assert.deepEqual(rows.map((r) => r.key), [email]);
  });
});

describe('login throttling: client address', () => {
  test('without WRENN_TRUST_PROXY the socket peer counts: X-Forwarded-For cannot dodge the address lock', async () => {
    const t = await startControlPlane({ env: { WRENN_LOGIN_MAX_FAILURES: '2', WRENN_LOGIN_MAX_FAILURES_PER_ADDRESS: '2' } });
    try {
      const u = await seedTeam(t.cp);
      for (let i = 0; i < 2; i++) {
        assert.equal((await loginFromSocket(t.port, '127.0.0.3', uniqueEmail('spray'), 'password1', { 'x-forwarded-for': freshIp() })).status, 401);
      }
      const spoofed = await loginFromSocket(t.port, '127.0.0.3', uniqueEmail('spray'), 'password1', { 'x-forwarded-for': freshIp() });
      assert.equal(spoofed.status, 429);
      assert.match(spoofed.body.error.message, /from your address/);
      assert.equal((await loginFromSocket(t.port, '127.0.0.4', u.email, u.password)).status, 200);
    } finally {
      await t.close();
    }
  });

  test('an IPv6 client is counted by its /64; IPv4-mapped addresses as IPv4', () => {
    assert.equal(clientAddressKey('2001:db8:1:2:aaaa:bbbb:cccc:dddd'), '2001:db8:1:2::/64');
    assert.equal(clientAddressKey('2001:db8:1:2::9'), '2001:db8:1:2::/64');
    assert.equal(clientAddressKey('2001:db8::1'), '2001:db8:0:0::/64');
    assert.equal(clientAddressKey('::1'), '0:0:0:0::/64');
    assert.equal(clientAddressKey('::ffff:192.0.2.7'), '192.0.2.7');
    assert.equal(clientAddressKey('192.0.2.7'), '192.0.2.7');
  });

  test('configuration: defaults, bounds and WRENN_TRUST_PROXY forms', () => {
    const base = { WRENN_JWT_SECRET: 'x'.repeat(32), WRENN_DATA_DIR: '/nonexistent' };
    const d = loadControlPlaneConfig(base);
    assert.equal(d.loginMaxFailures, 10);
    assert.equal(d.loginWindowSec, 900);
    assert.equal(d.trustProxy, false);
    assert.throws(() => loadControlPlaneConfig({ ...base, WRENN_LOGIN_MAX_FAILURES: '0' }), /WRENN_LOGIN_MAX_FAILURES/);
    assert.throws(() => loadControlPlaneConfig({ ...base, WRENN_LOGIN_WINDOW_SEC: 'soon' }), /WRENN_LOGIN_WINDOW_SEC/);
    assert.equal(loadControlPlaneConfig({ ...base, WRENN_TRUST_PROXY: 'true' }).trustProxy, true);
    assert.deepEqual(loadControlPlaneConfig({ ...base, WRENN_TRUST_PROXY: 'loopback, 10.0.0.0/8' }).trustProxy, ['loopback', '10.0.0.0/8']);
    assert.throws(() => loadControlPlaneConfig({ ...base, WRENN_TRUST_PROXY: '2' }), /hop count/);
    assert.throws(() => loadControlPlaneConfig({ ...base, WRENN_TRUST_PROXY: 'proxy.example.com' }), /WRENN_TRUST_PROXY/);
  });
});

describe('session revocation', () => {
  let t: TestControlPlane;
  let admin: SeededTeam;

  /** A user who logged in twice (two devices), with both tokens used (so cached) already. */
  async function userWithTwoSessions(): Promise<SeededTeam & { tokens: [string, string] }> {
    const u = await seedTeam(t.cp);
    const tokens: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } });
      assert.equal(r.status, 200);
      tokens.push(r.body.token);
      assert.equal((await t.api('GET', '/v1/me', { auth: r.body.token })).status, 200);
    }
    return { ...u, tokens: tokens as [string, string] };
  }

  async function assertEnded(token: string): Promise<void> {
    const r = await t.api('GET', '/v1/me', { auth: token });
    assert.equal(r.status, 401, JSON.stringify(r.body));
    assert.match(r.body.error.message, /session was ended/);
  }

  before(async () => {
    // The default cache TTL (5 s): "at once" below means the cached entries were dropped.
    t = await startControlPlane();
    admin = await seedTeam(t.cp, { isAdmin: true });
  });
  after(async () => {
    await t?.close();
  });

  test('changing the password ends every earlier session at once; the returned token works, for the same team', async () => {
    const u = await userWithTwoSessions();
    const team2 = await t.api('POST', '/v1/teams', { auth: u.tokens[0], body: { name: 'second' } });
    const switched = await t.api('POST', '/v1/auth/switch-team', { auth: u.tokens[0], body: { team_id: team2.body.id } });
    assert.equal((await t.api('GET', '/v1/me', { auth: switched.body.token })).status, 200);

    const r = await t.api('POST', '/v1/me/password', { auth: switched.body.token, body: { current_password: u.password, new_password: 'a new password' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.team.id, team2.body.id);
    for (const old of [...u.tokens, switched.body.token]) await assertEnded(old);
    const me = await t.api('GET', '/v1/me', { auth: r.body.token });
    assert.equal(me.status, 200, 'the token issued in the same instant as the change is valid');
    assert.equal(me.body.team.id, team2.body.id);
  });

  test('a wrong current password changes nothing and ends no session', async () => {
    const u = await userWithTwoSessions();
    const r = await t.api('POST', '/v1/me/password', { auth: u.tokens[0], body: { current_password: 'not it', new_password: 'a new password' } });
    assert.equal(r.status, 403);
    for (const token of u.tokens) assert.equal((await t.api('GET', '/v1/me', { auth: token })).status, 200);
  });

  test("POST /auth/logout-all ends all of the caller's sessions and nobody else's", async () => {
    const u = await userWithTwoSessions();
    const other = await userWithTwoSessions();
    const r = await t.api('POST', '/v1/auth/logout-all', { auth: u.tokens[0] });
    assert.equal(r.status, 204);
    for (const token of u.tokens) await assertEnded(token);
    for (const token of other.tokens) assert.equal((await t.api('GET', '/v1/me', { auth: token })).status, 200);
    const again = await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } });
    assert.equal(again.status, 200);
    assert.equal((await t.api('GET', '/v1/me', { auth: again.body.token })).status, 200);
  });

  test('API keys keep working through a password change and logout-all', async () => {
    const u = await userWithTwoSessions();
    assert.equal((await t.api('GET', '/v1/audit-logs', { auth: u.apiKey })).status, 200);
    const changed = await t.api('POST', '/v1/me/password', { auth: u.tokens[0], body: { current_password: u.password, new_password: 'a new password' } });
    assert.equal(changed.status, 200);
    assert.equal((await t.api('POST', '/v1/auth/logout-all', { auth: changed.body.token })).status, 204);
    assert.equal((await t.api('GET', '/v1/audit-logs', { auth: u.apiKey })).status, 200);
  });

  test('an administrator disabling a user ends their sessions for good: re-enabling does not revive them', async () => {
    const u = await userWithTwoSessions();
    assert.equal((await t.api('PATCH', `/v1/admin/users/${u.userId}`, { auth: admin.jwt, body: { active: false } })).status, 200);
    assert.equal((await t.api('PATCH', `/v1/admin/users/${u.userId}`, { auth: admin.jwt, body: { active: true } })).status, 200);
    for (const token of u.tokens) await assertEnded(token);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } })).status, 200);
  });

  test("an administrator's password reset ends the sessions and the password; the one-time token sets a new one", async () => {
    const u = await userWithTwoSessions();
    const reset = await t.api('POST', `/v1/admin/users/${u.userId}/reset-password`, { auth: admin.jwt });
    assert.equal(reset.status, 200, JSON.stringify(reset.body));
    assert.match(reset.body.activation_token, /^wact_/);
    for (const token of u.tokens) await assertEnded(token);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } })).status, 401);
    const act = await t.api('POST', '/v1/auth/activate', { body: { token: reset.body.activation_token, password: 'chosen again' } });
    assert.equal(act.status, 200, JSON.stringify(act.body));
    assert.equal((await t.api('GET', '/v1/me', { auth: act.body.token })).status, 200);
    assert.equal((await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: 'chosen again' } })).status, 200);
    assert.equal((await t.api('GET', '/v1/audit-logs', { auth: u.apiKey })).status, 200, 'API keys are not sessions');
  });

  test('a password reset of a disabled user is refused (409): using the token would enable it', async () => {
    const u = await seedTeam(t.cp);
    assert.equal((await t.api('PATCH', `/v1/admin/users/${u.userId}`, { auth: admin.jwt, body: { active: false } })).status, 200);
    const r = await t.api('POST', `/v1/admin/users/${u.userId}/reset-password`, { auth: admin.jwt });
    assert.equal(r.status, 409);
    assert.match(r.body.error.message, /disabled: enable it first/);
    assert.equal((await t.api('POST', '/v1/admin/users/usr-nope/reset-password', { auth: admin.jwt })).status, 404);
  });

  test('an invited user whose activation token expired gets a new one through a reset', async () => {
    const created = await t.api('POST', '/v1/admin/users', { auth: admin.jwt, body: { email: uniqueEmail('late') } });
    await t.cp.ctx.db.updateTable('user_tokens').set({ expires_at: new Date(Date.now() - 1000) }).where('user_id', '=', created.body.user.id).execute();
    const reset = await t.api('POST', `/v1/admin/users/${created.body.user.id}/reset-password`, { auth: admin.jwt });
    assert.equal(reset.status, 200);
    assert.equal((await t.api('POST', '/v1/auth/activate', { body: { token: created.body.activation_token, password: 'my password' } })).status, 401);
    const act = await t.api('POST', '/v1/auth/activate', { body: { token: reset.body.activation_token, password: 'my password' } });
    assert.equal(act.status, 200);
    assert.equal(act.body.user.active, true);
  });
});

describe('session revocation across replicas', () => {
  const TTL_SEC = 2;

  test(`a revocation written by another replica (straight into the database) is honoured once this replica's ${TTL_SEC} s cache entry expires`, async () => {
    const t = await startControlPlane({ env: { WRENN_AUTH_CACHE_TTL_SEC: String(TTL_SEC) } });
    try {
      const u = await seedTeam(t.cp);
      const login = await t.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } });
      const cachedAt = Date.now();
      assert.equal((await t.api('GET', '/v1/me', { auth: login.body.token })).status, 200);
      await t.cp.ctx.db.updateTable('users').set({ session_version: sql`session_version + 1` as never }).where('id', '=', u.userId).execute();
      await sleep(Math.max(0, cachedAt + TTL_SEC * 1000 + 100 - Date.now()));
      const r = await t.api('GET', '/v1/me', { auth: login.body.token });
      assert.equal(r.status, 401);
      assert.match(r.body.error.message, /session was ended/);
    } finally {
      await t.close();
    }
  });

  const twoReplicas = process.env.WRENN_TEST_DATABASE_URL
    ? false
    : 'needs two control planes on one database; PGlite is a single in-process connection, so this runs only on Postgres (WRENN_TEST_DATABASE_URL)';

  test(`a password changed on one replica: the other refuses the old token within ${TTL_SEC} s and takes the new one at once`, { skip: twoReplicas }, async () => {
    const a = await startControlPlane({ env: { WRENN_AUTH_CACHE_TTL_SEC: String(TTL_SEC) } });
    let b: TestControlPlane | undefined;
    try {
      b = await startControlPlane({ replicaOf: a, env: { WRENN_AUTH_CACHE_TTL_SEC: String(TTL_SEC) } });
      const u = await seedTeam(a.cp);
      const login = await a.api('POST', '/v1/auth/login', { body: { email: u.email, password: u.password } });
      assert.equal(login.status, 200);
      const cachedOnB = Date.now();
      assert.equal((await b.api('GET', '/v1/me', { auth: login.body.token })).status, 200);
      const changed = await a.api('POST', '/v1/me/password', { auth: login.body.token, body: { current_password: u.password, new_password: 'replicated pw' } });
      assert.equal(changed.status, 200);
      assert.equal((await a.api('GET', '/v1/me', { auth: login.body.token })).status, 401, 'at once on the replica that revoked');
      assert.equal((await b.api('GET', '/v1/me', { auth: changed.body.token })).status, 200, 'the new token works on the other replica at once');
      await sleep(Math.max(0, cachedOnB + TTL_SEC * 1000 + 100 - Date.now()));
      const stale = await b.api('GET', '/v1/me', { auth: login.body.token });
      assert.equal(stale.status, 401);
      assert.match(stale.body.error.message, /session was ended/);
    } finally {
      await b?.close();
      await a.close();
    }
  });

  test('failed logins on one replica count on the other', { skip: twoReplicas }, async () => {
    const env = { WRENN_LOGIN_MAX_FAILURES: '4', WRENN_TRUST_PROXY: 'loopback' };
    const a = await startControlPlane({ env });
    let b: TestControlPlane | undefined;
    try {
      b = await startControlPlane({ replicaOf: a, env });
      const u = await seedTeam(a.cp);
      for (const replica of [a, b, a, b]) assert.equal((await loginFrom(replica, freshIp(), u.email, 'wrong password')).status, 401);
      assertLocked(await loginFrom(a, freshIp(), u.email, u.password), 900, /for this email/);
      assertLocked(await loginFrom(b, freshIp(), u.email, u.password), 900, /for this email/);
    } finally {
      await b?.close();
      await a.close();
    }
  });
});

/**
 * The authentication cache (src/infra/principal-cache.ts): credentials are remembered for
 * WRENN_AUTH_CACHE_TTL_SEC; changes made through this control plane apply at once, changes
 * made behind its back (SQL, another replica) within the TTL; entries are bounded.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { PrincipalCache } from '../src/infra/principal-cache.js';
import { resolvePrincipal } from '../src/domain/accounts/principal.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('PrincipalCache', () => {
  test('entries expire after the TTL, and never after their own deadline', () => {
    const c = new PrincipalCache<string>(1000);
    const now = Date.now();
    c.set('a', 'A', c.generation);
    c.set('b', 'B', c.generation, now + 10);
    assert.equal(c.get('a', now + 500), 'A');
    assert.equal(c.get('b', now + 500), undefined, 'past its own deadline');
    assert.equal(c.get('a', now + 1500), undefined, 'past the TTL');
  });

  test('least recently used entries go first beyond the bound', () => {
    const c = new PrincipalCache<number>(60_000, 3);
    for (const k of ['a', 'b', 'c']) c.set(k, 1, c.generation);
    assert.equal(c.get('a'), 1); // a is now the most recently used
    c.set('d', 1, c.generation);
    assert.equal(c.size, 3);
    assert.equal(c.get('b'), undefined, 'the least recently used entry was dropped');
    assert.equal(c.get('a'), 1);
    assert.equal(c.get('d'), 1);
  });

  test('a value looked up before a clear is not stored after it', () => {
    const c = new PrincipalCache<string>(60_000);
    const before = c.generation;
    c.clear(); // e.g. a key was revoked while the lookup was in flight
    c.set('k', 'stale', before);
    assert.equal(c.get('k'), undefined);
    c.set('k', 'fresh', c.generation);
    assert.equal(c.get('k'), 'fresh');
  });

  test('concurrent lookups of one key share one lookup, within a generation; refusals are shared, not kept', async () => {
    const c = new PrincipalCache<string>(60_000);
    let lookups = 0;
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const lookup = async () => {
      const n = ++lookups;
      await gate;
      return `v${n}`;
    };
    const first = [c.shared('k', lookup), c.shared('k', lookup), c.shared('k', lookup)];
    c.clear(); // a revocation while the lookup runs: later callers must not join it
    const after = c.shared('k', lookup);
    release();
    assert.deepEqual(await Promise.all(first), ['v1', 'v1', 'v1']);
    assert.equal(await after, 'v2');
    assert.equal(lookups, 2);
    const refusal = () => Promise.reject(new Error('revoked'));
    await Promise.all([assert.rejects(c.shared('bad', refusal), /revoked/), assert.rejects(c.shared('bad', refusal), /revoked/)]);
    assert.equal(await c.shared('bad', async () => 'now good'), 'now good', 'a refusal is not kept');
  });

  test('a TTL of 0 stores nothing', () => {
    const c = new PrincipalCache<string>(0);
    c.set('k', 'v', c.generation);
    assert.equal(c.get('k'), undefined);
  });
});

describe('authentication cache in the control plane', () => {
  let t: TestControlPlane;
  let owner: SeededTeam;
  const TTL_SEC = 3;

  before(async () => {
    t = await startControlPlane({ env: { WRENN_AUTH_CACHE_TTL_SEC: String(TTL_SEC) } });
    owner = await seedTeam(t.cp);
  });
  after(async () => {
    await t?.close();
  });

  test(`a key revoked behind the control plane's back (SQL) is refused once the ${TTL_SEC} s TTL has passed`, async () => {
    const created = await t.api('POST', '/v1/api-keys', { auth: owner.jwt, body: { name: 'revoked by hand' } });
    assert.equal(created.status, 201);
    const firstUse = Date.now();
    assert.equal((await t.api('GET', '/v1/capsules', { auth: created.body.key })).status, 200);
    await t.cp.ctx.db.updateTable('api_keys').set({ revoked_at: sql`now()` as never }).where('id', '=', created.body.id).execute();
    // Within the TTL the remembered principal still answers (this is what the cache saves)...
    assert.equal((await t.api('GET', '/v1/capsules', { auth: created.body.key })).status, 200);
    // ...and not a moment past it.
    await sleep(Math.max(0, firstUse + TTL_SEC * 1000 + 100 - Date.now()));
    const r = await t.api('GET', '/v1/capsules', { auth: created.body.key });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /revoked/);
  });

  test('a key revoked through the API is refused on the very next call (the cache is cleared)', async () => {
    const created = await t.api('POST', '/v1/api-keys', { auth: owner.jwt, body: { name: 'revoked by API' } });
    assert.equal((await t.api('GET', '/v1/capsules', { auth: created.body.key })).status, 200);
    assert.equal((await t.api('DELETE', `/v1/api-keys/${created.body.id}`, { auth: owner.jwt })).status, 204);
    assert.equal((await t.api('GET', '/v1/capsules', { auth: created.body.key })).status, 401);
  });

  test('a burst of calls with a key not yet cached costs one database lookup, not one each', async () => {
    const created = await t.api('POST', '/v1/api-keys', { auth: owner.jwt, body: { name: 'burst' } });
    t.cp.ctx.principals.clear();
    const db = t.cp.ctx.db as unknown as { selectFrom: (table: string) => unknown };
    const selectFrom = db.selectFrom.bind(db);
    let keyLookups = 0;
    db.selectFrom = (table: string) => {
      if (table === 'api_keys') keyLookups++;
      return selectFrom(table);
    };
    try {
      // Straight to the resolver: requests over one keep-alive connection would arrive one after the other.
      const principals = await Promise.all(Array.from({ length: 20 }, () => resolvePrincipal(t.cp.ctx, { apiKey: created.body.key })));
      assert.deepEqual(new Set(principals.map((p) => p?.kind === 'apiKey' && p.keyId)), new Set([created.body.id]));
      assert.equal(keyLookups, 1);
    } finally {
      delete (db as { selectFrom?: unknown }).selectFrom;
    }
  });

  test("a member removed from a team loses that team's capsules on the next call", async () => {
    const email = `m-${randomBytes(4).toString('hex')}@example.test`;
    const signup = await t.api('POST', '/v1/auth/signup', { body: { email, password: 'password1' } });
    assert.equal(signup.status, 201);
    assert.equal((await t.api('POST', `/v1/teams/${owner.teamId}/members`, { auth: owner.jwt, body: { email } })).status, 201);
    const switched = await t.api('POST', '/v1/auth/switch-team', { auth: signup.body.token, body: { team_id: owner.teamId } });
    assert.equal(switched.status, 200, JSON.stringify(switched.body));
    const memberJwt: string = switched.body.token;
    assert.equal((await t.api('GET', '/v1/capsules', { auth: memberJwt })).status, 200);
    assert.equal((await t.api('DELETE', `/v1/teams/${owner.teamId}/members/${signup.body.user.id}`, { auth: owner.jwt })).status, 204);
    const r = await t.api('GET', '/v1/capsules', { auth: memberJwt });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /no longer a member/);
  });

  test('a JWT is not answered from the cache past its own expiry', async () => {
    const token = await t.cp.ctx.jwt.sign({ kind: 'user', user: owner.userId, team: owner.teamId, role: 'owner', is_admin: false }, 1);
    assert.equal((await t.api('GET', '/v1/capsules', { auth: token })).status, 200);
    await sleep(2100);
    const r = await t.api('GET', '/v1/capsules', { auth: token });
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /expired/);
  });
});

describe('authentication cache turned off', () => {
  test('with WRENN_AUTH_CACHE_TTL_SEC=0 a key revoked by SQL is refused on the next call', async () => {
    const t = await startControlPlane({ env: { WRENN_AUTH_CACHE_TTL_SEC: '0' } });
    try {
      const team = await seedTeam(t.cp);
      assert.equal((await t.api('GET', '/v1/capsules', { auth: team.apiKey })).status, 200);
      await t.cp.ctx.db.updateTable('api_keys').set({ revoked_at: sql`now()` as never }).where('id', '=', team.apiKeyId).execute();
      assert.equal((await t.api('GET', '/v1/capsules', { auth: team.apiKey })).status, 401);
    } finally {
      await t.close();
    }
  });
});

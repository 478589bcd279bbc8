import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import { auditTarget, actionRoute } from '../src/http/plugins/audit.js';
import { newAuditId } from '../src/domain/audit.js';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

interface Entry {
  id: string;
  team_id: string | null;
  actor_user_id: string | null;
  actor_key_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  result: 'ok' | 'error';
  status_code: number;
  detail: Record<string, unknown>;
  request_id: string | null;
  created_at: string;
}

describe('audit log', () => {
  let t: TestControlPlane;
  let team: SeededTeam;

  /** Entries are written after the response: poll until one matches. */
  const waitForEntry = async (auth: string, match: (e: Entry) => boolean): Promise<Entry> => {
    for (let i = 0; i < 100; i++) {
      const r = await t.api('GET', '/v1/audit-logs?limit=500', { auth });
      assert.equal(r.status, 200);
      const found = (r.body.audit_logs as Entry[]).find(match);
      if (found) return found;
      await new Promise((res) => setTimeout(res, 30));
    }
    throw new Error('no matching audit entry within 3 s');
  };

  const allRows = async () => t.cp.ctx.db.selectFrom('audit_logs').selectAll().execute();

  before(async () => {
    t = await startControlPlane();
    team = await seedTeam(t.cp);
  });
  after(async () => {
    await t?.close();
  });

  test('a mutating call by a user is recorded: who, team, action, target, result, status, request id', async () => {
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const created = await t.api('POST', '/v1/api-keys', { auth: team.jwt, body: { name: 'audited' }, headers: { 'x-request-id': requestId } });
    assert.equal(created.status, 201);
    const e = await waitForEntry(team.jwt, (x) => x.request_id === requestId);
    assert.match(e.id, /^log-/);
    assert.equal(e.team_id, team.teamId);
    assert.equal(e.actor_user_id, team.userId);
    assert.equal(e.actor_key_id, null);
    assert.equal(e.action, 'POST /api-keys');
    assert.equal(e.target_type, 'api_key');
    assert.equal(e.target_id, created.body.id);
    assert.equal(e.result, 'ok');
    assert.equal(e.status_code, 201);
    assert.match(e.created_at, /Z$/);
  });

  test('the target comes from the route parameters, and /api/v1 gives the same action', async () => {
    const created = await t.api('POST', '/v1/api-keys', { auth: team.jwt, body: { name: 'to delete' } });
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    assert.equal((await t.api('DELETE', `/api/v1/api-keys/${created.body.id}`, { auth: team.jwt, headers: { 'x-request-id': requestId } })).status, 204);
    const e = await waitForEntry(team.jwt, (x) => x.request_id === requestId);
    assert.equal(e.action, 'DELETE /api-keys/:id');
    assert.equal(e.target_type, 'api_key');
    assert.equal(e.target_id, created.body.id);
  });

  test('a principal refused by the scope (API key on a user route) is not recorded; an accepted one that fails is', async () => {
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    // POST /teams refuses API keys (403) after authenticating the key: still an audited attempt.
    const r = await t.api('POST', '/v1/teams', { auth: team.apiKey, body: { name: 'via key' }, headers: { 'x-request-id': requestId } });
    assert.equal(r.status, 403);
    const rows = await allRows();
    assert.ok(!rows.some((x) => x.request_id === requestId), 'a principal refused by the scope is not set on the request');
    const other = await seedTeam(t.cp);
    const keyCall = `req-${randomBytes(6).toString('hex')}`;
    const del = await t.api('DELETE', '/v1/api-keys/key-nothing', { auth: other.jwt, headers: { 'x-request-id': keyCall } });
    assert.equal(del.status, 404);
    const e = await waitForEntry(other.jwt, (x) => x.request_id === keyCall);
    assert.equal(e.result, 'error');
    assert.equal(e.actor_user_id, other.userId);
  });

  test('an API key actor is recorded as actor_key_id (with no user id)', async () => {
    // No accounts route both mutates and accepts API keys (they are user-token routes), so a route added
    // through the extension point (docs/decisions.md#c6) stands in for the capsule routes that do.
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const extension = {
      name: 'audit-probe',
      routes: async (app: import('fastify').FastifyInstance, ctx: import('../src/context.js').ControlPlaneContext) => {
        const { authScope } = await import('../src/http/plugins/auth.js');
        await app.register(async (s) => {
          authScope(s, ctx, { allow: ['user', 'apiKey'] });
          s.post('/probe/things/:id', async () => ({ ok: true }));
        });
      },
    };
    const t2 = await startControlPlane({ extensions: [extension] });
    try {
      const owner = await seedTeam(t2.cp);
      const r = await t2.api('POST', '/probe/things/thing-1', { auth: owner.apiKey, headers: { 'x-request-id': requestId } });
      assert.equal(r.status, 200);
      let row;
      for (let i = 0; i < 100 && !row; i++) {
        row = await t2.cp.ctx.db.selectFrom('audit_logs').selectAll().where('request_id', '=', requestId).executeTakeFirst();
        if (!row) await new Promise((res) => setTimeout(res, 30));
      }
      assert.ok(row, 'entry recorded');
      assert.equal(row.actor_key_id, owner.apiKeyId);
      assert.equal(row.actor_user_id, null);
      assert.equal(row.team_id, owner.teamId);
      assert.equal(row.action, 'POST /probe/things/:id');
      assert.equal(row.target_type, 'thing');
      assert.equal(row.target_id, 'thing-1');
    } finally {
      await t2.close();
    }
  });

  test('a refused call is recorded as an error with its status and error code', async () => {
    const u = await t.api('POST', '/v1/auth/signup', { body: { email: `a-${randomBytes(4).toString('hex')}@example.test`, password: 'password1' } });
    const requestId = `req-${randomBytes(6).toString('hex')}`;
    const r = await t.api('POST', '/v1/me/password', { auth: u.body.token, body: { current_password: 'wrong-one', new_password: 'whatever12' }, headers: { 'x-request-id': requestId } });
    assert.equal(r.status, 403);
    const e = await waitForEntry(u.body.token, (x) => x.request_id === requestId);
    assert.equal(e.result, 'error');
    assert.equal(e.status_code, 403);
    assert.equal(e.detail.error_code, 'permission_denied');
    assert.equal(e.action, 'POST /me/password');
    assert.equal(e.target_type, 'user');
    assert.equal(e.target_id, u.body.user.id);
  });

  test('entries are queued and written together: a burst of calls is all there once flushed (as on close)', async () => {
    const before = (await allRows()).length;
    const names = Array.from({ length: 20 }, (_, i) => `burst ${i}`);
    const results = await Promise.all(names.map((name) => t.api('POST', '/v1/teams', { auth: team.jwt, body: { name } })));
    assert.ok(results.every((r) => r.status === 201));
    await t.cp.ctx.audit.flush();
    const rows = await allRows();
    assert.equal(rows.length, before + names.length);
    const created = new Set(results.map((r) => r.body.id as string));
    assert.equal(rows.filter((r) => r.action === 'POST /teams' && created.has(r.target_id ?? '')).length, names.length);
  });

  test('reads and unauthenticated calls are not recorded', async () => {
    const before = (await allRows()).length;
    await t.api('GET', '/v1/api-keys', { auth: team.jwt });
    await t.api('GET', '/v1/teams', { auth: team.jwt });
    await t.api('POST', '/v1/teams', { body: { name: 'anonymous' } });
    await t.api('DELETE', '/v1/api-keys/key-x');
    // Entries are queued and written in batches: write whatever (wrongly) got queued before counting.
    await t.cp.ctx.audit.flush();
    assert.equal((await allRows()).length, before);
  });

  test('failed logins are recorded: action login, result error, the email in detail', async () => {
    const email = `ghost-${randomBytes(4).toString('hex')}@example.test`;
    const r = await t.api('POST', '/v1/auth/login', { body: { email, password: 'nope-nope' } });
    assert.equal(r.status, 401);
    let row;
    for (let i = 0; i < 100 && !row; i++) {
      row = (await allRows()).find((x) => x.action === 'login' && (x.detail as { email?: string }).email === email);
      if (!row) await new Promise((res) => setTimeout(res, 30));
    }
    assert.ok(row, 'failed login recorded');
    assert.equal(row.result, 'error');
    assert.equal(row.status_code, 401);
    assert.equal(row.team_id, null);
    assert.equal(row.actor_user_id, null);

    // A wrong password for a real account lands in that user's team log, naming the user as target.
    const wrong = await t.api('POST', '/v1/auth/login', { body: { email: team.email, password: 'not-it-at-all' } });
    assert.equal(wrong.status, 401);
    const e = await waitForEntry(team.jwt, (x) => x.action === 'login' && x.result === 'error');
    assert.equal(e.target_id, team.userId);
    assert.equal(e.detail.email, team.email);
  });

  test('team operations are logged in the team they act on; other teams never see them', async () => {
    const owner = await t.api('POST', '/v1/auth/signup', { body: { email: `o-${randomBytes(4).toString('hex')}@example.test`, password: 'password1' } });
    const created = await t.api('POST', '/v1/teams', { auth: owner.body.token, body: { name: 'logged' } });
    const switched = await t.api('POST', '/v1/auth/switch-team', { auth: owner.body.token, body: { team_id: created.body.id } });
    const e = await waitForEntry(switched.body.token, (x) => x.action === 'POST /teams');
    assert.equal(e.target_type, 'team');
    assert.equal(e.target_id, created.body.id);
    assert.equal(e.team_id, created.body.id);
    assert.equal(e.actor_user_id, owner.body.user.id);
    // Not in the log of the personal team the creating token acted for.
    const personal = await t.api('GET', '/v1/audit-logs?limit=500', { auth: owner.body.token });
    assert.ok(!(personal.body.audit_logs as Entry[]).some((x) => x.id === e.id));
    const outsider = await t.api('GET', '/v1/audit-logs?limit=500', { auth: team.jwt });
    assert.ok(!(outsider.body.audit_logs as Entry[]).some((x) => x.id === e.id));
  });

  test('pagination: newest first, `before` cursors through every entry exactly once', async () => {
    const u = await t.api('POST', '/v1/auth/signup', { body: { email: `p-${randomBytes(4).toString('hex')}@example.test`, password: 'password1' } });
    const token: string = u.body.token;
    for (let i = 0; i < 5; i++) await t.api('PATCH', '/v1/me', { auth: token, body: { name: `name ${i}` } });
    // Wait until all 5 PATCHes are in (plus the signup entry).
    let all: Entry[] = [];
    for (let i = 0; i < 100 && all.length < 6; i++) {
      all = (await t.api('GET', '/v1/audit-logs?limit=500', { auth: token })).body.audit_logs;
      if (all.length < 6) await new Promise((res) => setTimeout(res, 30));
    }
    assert.equal(all.length, 6);
    assert.equal(all[all.length - 1]!.action, 'signup');
    const seen: string[] = [];
    let before: string | null = null;
    let pages = 0;
    do {
      const q: string = `/v1/audit-logs?limit=2${before ? `&before=${before}` : ''}`;
      const page = await t.api('GET', q, { auth: token });
      assert.equal(page.status, 200);
      assert.ok(page.body.audit_logs.length <= 2);
      seen.push(...page.body.audit_logs.map((x: Entry) => x.id));
      before = page.body.next_before;
      pages++;
    } while (before && pages < 10);
    assert.equal(pages, 3);
    assert.deepEqual(seen, all.map((x) => x.id));
    const times = all.map((x) => Date.parse(x.created_at));
    assert.deepEqual(times, [...times].sort((a, b) => b - a), 'newest first');
  });

  test('bad query parameters → 400', async () => {
    for (const q of ['limit=0', 'limit=501', 'before=nope', 'limit=2&extra=1']) {
      const r = await t.api('GET', `/v1/audit-logs?${q}`, { auth: team.jwt });
      assert.equal(r.status, 400, q);
    }
  });

  test('audit ids sort by time, and targets are derived from routes', () => {
    const a = newAuditId(1_700_000_000_000);
    const b = newAuditId(1_700_000_000_001);
    const c = newAuditId(1_700_000_000_001);
    assert.ok(a < b && b < c, `${a} < ${b} < ${c}`);
    assert.equal(actionRoute('/api/v1/capsules/:id'), '/capsules/:id');
    assert.equal(actionRoute('/v1/capsules'), '/capsules');
    assert.deepEqual(auditTarget('/capsules/:id/processes/:selector', { id: 'cl-1', selector: '42' }), { type: 'process', id: '42' });
    assert.deepEqual(auditTarget('/teams/:id/members/:user_id', { id: 'team-1', user_id: 'usr-2' }), { type: 'user', id: 'usr-2' });
    assert.deepEqual(auditTarget('/capsules/:id/exec', { id: 'cl-1' }), { type: 'capsule', id: 'cl-1' });
    assert.deepEqual(auditTarget('/capsules', {}, { id: 'cl-9', status: 'running' }), { type: 'capsule', id: 'cl-9' });
    assert.deepEqual(auditTarget('/snapshots/:name', { name: 'snap' }), { type: 'snapshot', id: 'snap' });
    assert.deepEqual(auditTarget('/auth/switch-team', {}, { token: 'x' }), { type: null, id: null });
  });
});

describe('audit log failures', () => {
  test('a failing audit write never fails the audited call', async () => {
    const t = await startControlPlane();
    try {
      const team = await seedTeam(t.cp);
      // A real fault: the table the audit writes into is gone.
      await sql`alter table audit_logs rename to audit_logs_away`.execute(t.cp.ctx.db);
      for (let i = 0; i < 3; i++) {
        const r = await t.api('POST', '/v1/teams', { auth: team.jwt, body: { name: `still works ${i}` } });
        assert.equal(r.status, 201);
      }
      const login = await t.api('POST', '/v1/auth/login', { body: { email: team.email, password: 'wrong password' } });
      assert.equal(login.status, 401);
      await new Promise((res) => setTimeout(res, 200));
      await sql`alter table audit_logs_away rename to audit_logs`.execute(t.cp.ctx.db);
      assert.equal((await t.api('GET', '/v1/teams', { auth: team.jwt })).body.length, 4);
    } finally {
      await t.close();
    }
  });
});

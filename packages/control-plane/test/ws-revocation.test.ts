import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, seedTeam, type SeededTeam } from './harness.js';
import { WsClient, b64, createRunningCapsule } from './ws-support.js';
import { sha256Hex } from '../src/infra/secrets.js';

const BASH = { type: 'start', cmd: '/bin/bash', args: ['--norc', '-i'], cols: 80, rows: 24 };

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Asserts the socket is closed within `withinMs` (counted from now) the way a revocation
 * closes it: one fatal `unauthenticated` error saying why, then 4401.
 */
async function expectRevoked(ws: WsClient, withinMs: number, why: RegExp): Promise<void> {
  const closed = await Promise.race([ws.closed, sleep(withinMs).then(() => undefined)]);
  assert.ok(closed, `the socket is still open ${withinMs} ms after its credentials were revoked`);
  assert.equal(closed.code, 4401);
  const errors = ws.messages.filter((m) => m.type === 'error');
  assert.equal(errors.length, 1, `exactly one error message: ${JSON.stringify(errors)}`);
  assert.equal(errors[0]!.reason, 'unauthenticated');
  assert.equal(errors[0]!.code, 'unauthorized');
  assert.equal(errors[0]!.fatal, true);
  assert.match(errors[0]!.message, /no longer valid/);
  assert.match(errors[0]!.message, why);
}

/** A control plane with an agent, a team and one running capsule of it, destroyed by `close`. */
async function fixture(env: Record<string, string>) {
  const t = await startControlPlane({ withAgent: true, env });
  let team: SeededTeam;
  let capsuleId: string;
  try {
    team = await seedTeam(t.cp);
    capsuleId = await createRunningCapsule(t, team.teamId);
  } catch (err) {
    await t.close(); // the agent (its capsules, cgroups, nftables table) goes even when setup fails
    throw err;
  }
  const open: WsClient[] = [];
  return {
    t,
    team,
    capsuleId,
    async connect(route: '/pty' | '/exec/stream', auth?: string): Promise<WsClient> {
      const c = await WsClient.open(t, `/v1/capsules/${capsuleId}${route}`, auth);
      open.push(c);
      return c;
    },
    /** Whether the capsule's process `pid` is gone within 5 s. */
    async processGone(pid: number): Promise<boolean> {
      const running = async () => (await t.agent!.client.listProcesses({ capsuleId })).processes.some((p) => p.pid === pid);
      const deadline = Date.now() + 5000;
      while ((await running()) && Date.now() < deadline) await sleep(100);
      return !(await running());
    },
    /** A new API key of the team, through the API. */
    async newKey(name: string): Promise<{ id: string; key: string }> {
      const r = await t.api('POST', '/v1/api-keys', { auth: team.jwt, body: { name } });
      assert.equal(r.status, 201);
      return { id: r.body.id, key: r.body.key };
    },
    async close(): Promise<void> {
      for (const c of open) c.close();
      try {
        await t.agent!.client.destroy({ capsuleId });
      } catch (err) {
        console.error(`capsule ${capsuleId} was not destroyed by the test (the harness destroys what is left):`, err);
      }
      await t.close();
    },
  };
}

type Fixture = Awaited<ReturnType<typeof fixture>>;

/** A PTY running bash that has shown it works. */
async function workingTerminal(f: Fixture, auth: string): Promise<WsClient> {
  const ws = await f.connect('/pty', auth);
  ws.send(BASH);
  await ws.waitFor((m) => m.type === 'started');
  ws.send({ type: 'input', data: b64('echo alive-$((20+22))\n') });
  await ws.waitForOutput('alive-42');
  return ws;
}

describe('open WebSockets end when their credentials are revoked through this control plane', () => {
  let f: Fixture;

  before(async () => {
    // Far longer than the tests wait: only the cache-invalidation path can close these sockets.
    f = await fixture({ WRENN_WS_REAUTH_SEC: '60' });
  });
  after(async () => {
    await f?.close();
  });

  test('revoking an API key (DELETE /v1/api-keys/{id}) closes the terminal opened with it within moments: error unauthenticated, 4401', async () => {
    const { id, key } = await f.newKey('terminal');
    const ws = await workingTerminal(f, key);
    const revoke = await f.t.api('DELETE', `/v1/api-keys/${id}`, { auth: f.team.jwt });
    assert.equal(revoke.status, 204);
    await expectRevoked(ws, 3000, /revoked API key/);
  });

  test("removing a member from the team closes the member's exec stream (authenticated by its first message) and kills its command", async () => {
    const member = await seedTeam(f.t.cp, { role: 'member' });
    const added = await f.t.api('POST', `/v1/teams/${f.team.teamId}/members`, { auth: f.team.jwt, body: { email: member.email } });
    assert.equal(added.status, 201);
    const token = await f.t.cp.ctx.jwt.sign({ kind: 'user', user: member.userId, team: f.team.teamId, role: 'member', is_admin: false });
    const ws = await f.connect('/exec/stream');
    ws.send({ type: 'auth', token });
    ws.send({ type: 'start', cmd: '/bin/sh', args: ['-c', 'echo ready; exec sleep 600'] });
    const { pid } = await ws.waitFor((m) => m.type === 'start');
    await ws.waitFor((m) => m.type === 'stdout' && String(m.data).includes('ready'));
    const removed = await f.t.api('DELETE', `/v1/teams/${f.team.teamId}/members/${member.userId}`, { auth: f.team.jwt });
    assert.equal(removed.status, 204);
    await expectRevoked(ws, 3000, /no longer a member/);
    assert.equal(await f.processGone(pid), true, 'the command of the closed socket is killed');
  });

  test('a terminal opened with a JWT closes when the JWT expires, not a WRENN_WS_REAUTH_SEC later', async () => {
    const token = await f.t.cp.ctx.jwt.sign({ kind: 'user', user: f.team.userId, team: f.team.teamId, role: 'owner', is_admin: false }, 3);
    const ws = await workingTerminal(f, token);
    await expectRevoked(ws, 6000, /expired/);
  });
});

describe('open WebSockets re-check their credentials periodically (WRENN_WS_REAUTH_SEC)', () => {
  let f: Fixture;

  before(async () => {
    f = await fixture({ WRENN_WS_REAUTH_SEC: '1', WRENN_AUTH_CACHE_TTL_SEC: '1' });
  });
  after(async () => {
    await f?.close();
  });

  test('a key revoked behind the control plane (SQL) closes its terminal within WRENN_WS_REAUTH_SEC + WRENN_AUTH_CACHE_TTL_SEC', async () => {
    const { id, key } = await f.newKey('revoked by hand');
    const ws = await workingTerminal(f, key);
    // Not through the API: this replica's cache is not told, only the periodic check sees it.
    await f.t.cp.ctx.db.updateTable('api_keys').set({ revoked_at: new Date() }).where('id', '=', id).execute();
    await expectRevoked(ws, 5000, /revoked API key/);
  });

  test('sockets whose credentials stay valid are re-checked every second, survive unrelated revocations, and keep working', async () => {
    const { key } = await f.newKey('stays valid');
    const cache = f.t.cp.ctx.principals;
    const lookups = new Map<string, number>();
    const get = cache.get.bind(cache);
    cache.get = (k, now) => {
      lookups.set(k, (lookups.get(k) ?? 0) + 1);
      return get(k, now);
    };
    try {
      const terminal = await workingTerminal(f, key);
      const stream = await f.connect('/exec/stream', f.team.jwt);
      stream.send({ type: 'start', cmd: '/bin/sh', args: ['-c', 'echo ready; exec sleep 600'] });
      await stream.waitFor((m) => m.type === 'stdout' && String(m.data).includes('ready'));
      // Another key of the same team revoked: every socket re-checks, and these still hold.
      const other = await f.newKey('unrelated');
      assert.equal((await f.t.api('DELETE', `/v1/api-keys/${other.id}`, { auth: f.team.jwt })).status, 204);
      // From here on only the sockets look their credentials up.
      lookups.clear();
      await sleep(3500);
      const keyChecks = lookups.get(`k:${sha256Hex(key)}`) ?? 0;
      const jwtChecks = lookups.get(`j:${f.team.jwt}`) ?? 0;
      assert.ok(keyChecks >= 3 && jwtChecks >= 3, `re-checks in 3.5 s: API key ${keyChecks}, JWT ${jwtChecks}`);
      const from = terminal.messages.length;
      terminal.send({ type: 'input', data: b64('echo still-$((40+2))\n') });
      await terminal.waitForOutput('still-42', 15_000, from);
      assert.equal(stream.messages.some((m) => m.type === 'error' || m.type === 'exit'), false, 'the stream still runs');
      assert.equal(terminal.messages.some((m) => m.type === 'error'), false);
      stream.send({ type: 'stop' });
      await stream.waitFor((m) => m.type === 'exit', 10_000);
    } finally {
      Reflect.deleteProperty(cache, 'get'); // the class's method again
    }
  });
});

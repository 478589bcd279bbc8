/**
 * E2B sandbox logs (`GET /v2/sandboxes/{id}/logs`, and the deprecated v1 route) against
 * Wrenn: a sandbox's lifecycle as the control plane recorded it (calls made on it through
 * the unmodified `e2b` SDK, its end of life by the lifetime worker), in E2B's shape, with
 * cursor, direction, level, search and limit; kept after the sandbox is killed; another
 * team's sandbox is a 404. The SDK has no logs method, so the routes are called as E2B's
 * OpenAPI document describes them.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox } from 'e2b';
import { seedTeam } from './harness.js';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

interface Entry {
  timestamp: string;
  level: string;
  message: string;
  fields: Record<string, string>;
}

describe('e2b API: sandbox logs', () => {
  let f: E2bFixture;
  before(async () => {
    f = await startE2bFixture();
  });
  after(async () => {
    await f?.close();
  });

  const logs = async (id: string, query = '', auth = f.team.apiKey) => {
    const res = await f.t.api('GET', `/v2/sandboxes/${id}/logs${query}`, { auth });
    return res as { status: number; body: { logs: Entry[] } };
  };

  test('the lifecycle of a sandbox, oldest first, in E2B shape; backward, limit, cursor, level and search narrow it', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000 }));
    await sbx.setTimeout(120_000);
    assert.equal(await sbx.pause(), true);
    assert.equal(await sbx.pause(), false, 'the second pause is refused (409)');
    await Sandbox.connect(sbx.sandboxId);

    const all = await logs(sbx.sandboxId);
    assert.equal(all.status, 200);
    const actions = all.body.logs.map((e) => e.fields.action);
    assert.deepEqual(actions, [
      'POST /v2/sandboxes',
      'POST /sandboxes/:sandboxID/timeout',
      'POST /sandboxes/:sandboxID/pause',
      'POST /sandboxes/:sandboxID/pause',
      'POST /v2/sandboxes/:sandboxID/connect',
    ]);
    const [created] = all.body.logs;
    assert.deepEqual(Object.keys(created!).sort(), ['fields', 'level', 'message', 'timestamp']);
    assert.equal(created!.level, 'info');
    assert.equal(created!.message, 'POST /v2/sandboxes → 201');
    assert.equal(created!.fields.result, 'ok');
    assert.ok(created!.fields.apiKeyId);
    assert.ok(!Number.isNaN(Date.parse(created!.timestamp)));
    const refused = all.body.logs[3]!;
    assert.deepEqual([refused.level, refused.fields.status, refused.fields.result], ['error', '409', 'error']);

    const backward = await logs(sbx.sandboxId, '?direction=backward&limit=2');
    assert.deepEqual(backward.body.logs.map((e) => e.message), ['POST /v2/sandboxes/:sandboxID/connect → 201', 'POST /sandboxes/:sandboxID/pause → 409']);
    const pausedAt = Date.parse(all.body.logs[2]!.timestamp);
    const since = await logs(sbx.sandboxId, `?cursor=${pausedAt}`);
    assert.deepEqual(since.body.logs.map((e) => e.fields.action), actions.slice(2));
    assert.deepEqual((await logs(sbx.sandboxId, '?level=error')).body.logs.map((e) => e.fields.status), ['409']);
    assert.deepEqual((await logs(sbx.sandboxId, `?search=${encodeURIComponent('pause → 204')}`)).body.logs.map((e) => e.fields.status), ['204']);
    const badQuery = await logs(sbx.sandboxId, '?level=fatal');
    assert.deepEqual([badQuery.status, (badQuery.body as unknown as { code: number }).code], [400, 400], 'a bad query is a 400 in E2B shape');

    const v1 = await f.t.api('GET', `/sandboxes/${sbx.sandboxId}/logs?limit=1`, { auth: f.team.apiKey });
    assert.equal(v1.status, 200);
    assert.deepEqual(v1.body, { logs: [{ timestamp: created!.timestamp, line: 'info: POST /v2/sandboxes → 201' }], logEntries: [created] });

    const other = await seedTeam(f.t.cp);
    const foreign = await logs(sbx.sandboxId, '', other.apiKey);
    assert.equal(foreign.status, 404);
    assert.equal((foreign.body as unknown as { code: number }).code, 404);
    await sbx.kill();
  });

  test('a sandbox that reached its end of life says so, and its logs outlive it', async () => {
    const sbx = f.track(await Sandbox.create({ timeoutMs: 1_000 }));
    const deadline = Date.now() + 20_000;
    let entries: Entry[] = [];
    while (Date.now() < deadline) {
      entries = (await logs(sbx.sandboxId)).body.logs;
      if (entries.some((e) => e.fields.action === 'sandbox end of life: killed')) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    assert.deepEqual(entries.map((e) => e.message), ['POST /v2/sandboxes → 201', 'sandbox end of life: killed']);
    assert.equal(await Sandbox.connect(sbx.sandboxId).then(() => 'running', () => 'gone'), 'gone');
    assert.equal((await logs(sbx.sandboxId)).status, 200);
    assert.equal((await logs('no-such-sandbox')).status, 404);
  });
});

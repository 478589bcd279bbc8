import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startControlPlane, seedTeam, type TestControlPlane } from './harness.js';

describe('control plane bootstrap', () => {
  let t: TestControlPlane;
  before(async () => {
    t = await startControlPlane();
  });
  after(async () => {
    await t?.close();
  });

  test('GET /health answers with the database kind', async () => {
    const r = await t.api('GET', '/health');
    assert.equal(r.status, 200);
    assert.equal(r.body.status, 'ok');
    assert.equal(r.body.database, process.env.WRENN_TEST_DATABASE_URL ? 'postgres' : 'pglite');
  });

  test('unknown routes are 404 in the error format, with a request id', async () => {
    const r = await t.api('GET', '/v1/nope', { headers: { 'x-request-id': 'req-test-1' } });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.reason, 'not_found');
    assert.equal(r.headers.get('x-request-id'), 'req-test-1');
  });

  test('the OpenAPI document is served as JSON and YAML, docs as HTML', async () => {
    const json = await t.api('GET', '/openapi.json');
    assert.equal(json.status, 200);
    assert.equal(json.body.openapi, '3.1.0');
    // WebSocket routes are documented too (@fastify/websocket hides them by default).
    for (const path of ['/v1/capsules/{id}/pty', '/v1/capsules/{id}/exec/stream', '/v1/capsules/{id}/processes/{selector}/stream']) {
      const get = json.body.paths[path]?.get;
      assert.ok(get, `${path} is in the document`);
      assert.match(get.description, /WebSocket/);
      assert.ok(get.responses['101'], `${path} documents the upgrade`);
    }
    const yaml = await fetch(`${t.url}/openapi.yaml`);
    assert.match(await yaml.text(), /^openapi: 3\.1\.0/m);
    const docs = await fetch(`${t.url}/docs/`);
    assert.equal(docs.status, 200);
    assert.match(await docs.text(), /<html/i);
  });

  test('Prometheus metrics are exposed', async () => {
    const r = await fetch(`${t.url}/metrics`);
    const text = await r.text();
    assert.match(text, /wrenn_http_request_duration_seconds_bucket/);
    assert.match(text, /wrenn_capsules/);
  });

  test('seeded team exists (harness self-check)', async () => {
    const team = await seedTeam(t.cp);
    const row = await t.cp.ctx.db.selectFrom('teams').selectAll().where('id', '=', team.teamId).executeTakeFirst();
    assert.ok(row);
  });
});

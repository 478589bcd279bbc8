import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startEnvd, type TestEnvd, TEST_USER } from './harness.js';
import { ENVD_VERSION } from '../src/version.js';

describe('envd control routes', () => {
  let t: TestEnvd;
  before(async () => {
    t = await startEnvd();
  });
  after(async () => {
    await t.close();
  });

  test('GET /health answers 200 with a JSON body carrying the version', async () => {
    const res = await t.fetch('/health');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const body = (await res.json()) as { status: string; version: string };
    assert.equal(body.status, 'ok');
    assert.equal(body.version, ENVD_VERSION);
  });

  test('unknown route gives a 404 in the envd error format', async () => {
    const res = await t.fetch('/nope');
    assert.equal(res.status, 404);
    const body = (await res.json()) as { code: number; message: string };
    assert.equal(body.code, 404);
    assert.match(body.message, /\/nope/);
  });

  test('POST /init rejects a body that does not match the schema', async () => {
    const res = await t.fetch('/init', { method: 'POST', body: JSON.stringify({ envVars: { A: 1 } }) });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { message: string };
    assert.match(body.message, /envVars/);
  });

  test('POST /init rejects malformed JSON with 400', async () => {
    const res = await t.fetch('/init', { method: 'POST', body: '{"envVars":' });
    assert.equal(res.status, 400);
  });

  test('POST /init refuses an unknown default user and changes nothing', async () => {
    const res = await t.fetch('/init', { method: 'POST', body: JSON.stringify({ defaultUser: 'ghost', envVars: { X: '1' } }) });
    assert.equal(res.status, 401);
    assert.deepEqual(await (await t.fetch('/envs')).json(), {});
  });

  test('POST /init sets env vars, default user and metadata files; GET /envs returns them', async () => {
    const res = await t.fetch('/init', {
      method: 'POST',
      body: JSON.stringify({ envVars: { FOO: 'bar' }, defaultUser: TEST_USER, capsuleId: 'cl-abc', templateId: 'minimal' }),
    });
    assert.equal(res.status, 204);
    assert.deepEqual(await (await t.fetch('/envs')).json(), { FOO: 'bar' });
    assert.equal(t.envd.ctx.state.defaultUser, TEST_USER);
    const run = join(t.root, 'run');
    assert.equal(readFileSync(join(run, '.WRENN_CAPSULE_ID'), 'utf8'), 'cl-abc');
    assert.equal(JSON.parse(readFileSync(join(run, 'metadata.json'), 'utf8')).templateId, 'minimal');
  });
});

describe('envd access token', () => {
  let t: TestEnvd;
  before(async () => {
    t = await startEnvd();
    const res = await t.fetch('/init', { method: 'POST', body: JSON.stringify({ accessToken: 'secret-token' }) });
    assert.equal(res.status, 204);
  });
  after(async () => {
    await t.close();
  });

  test('requests without the token get 401 once /init set one', async () => {
    assert.equal((await t.fetch('/envs')).status, 401);
    assert.equal((await t.fetch('/envs', { headers: { 'x-access-token': 'wrong' } })).status, 401);
    assert.equal((await t.fetch('/init', { method: 'POST', body: '{}' })).status, 401);
  });

  test('requests with the token pass', async () => {
    assert.equal((await t.fetch('/envs', { headers: { 'x-access-token': 'secret-token' } })).status, 200);
  });

  test('/health stays open so the host can probe liveness', async () => {
    assert.equal((await t.fetch('/health')).status, 200);
  });

  test('RPC calls without the token are refused as unauthenticated', async () => {
    const res = await t.fetch('/process.Process/List', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    assert.equal(res.status, 401);
  });
});

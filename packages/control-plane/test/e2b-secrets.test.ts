/**
 * The unmodified `e2b` SDK (2.51): team secrets. Create, get, list, update (version goes
 * up), delete; values are never returned and are not stored in plain text; another team
 * cannot see them; a sandbox whose envs name `${e2b.secrets.<name>}` gets the value, and
 * an unknown name is refused before any capsule is made.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Sandbox, Secret, SecretNotFoundError, SandboxError } from 'e2b';
import { seedTeam } from './harness.js';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

describe('e2b SDK: secrets', () => {
  let f: E2bFixture;
  before(async () => {
    f = await startE2bFixture();
  });
  after(async () => {
    await f?.close();
  });

  test('CRUD: values are write-only, sealed at rest, and per team', async () => {
    const created = await Secret.create('api-token', 's3cr3t-value', { metadata: { owner: 'tests' } });
    assert.equal(created.name, 'api-token');
    assert.equal(created.version, 1);
    assert.deepEqual(created.metadata, { owner: 'tests' });
    assert.ok(!JSON.stringify(created).includes('s3cr3t-value'));
    const info = await Secret.getInfo('api-token');
    assert.equal(info.secretId, created.secretId);
    const raw = await f.t.api('GET', `/secrets/${created.secretId}`, { auth: f.team.apiKey });
    assert.ok(!JSON.stringify(raw.body).includes('s3cr3t-value'));
    const stored = await f.t.cp.ctx.db.selectFrom('e2b_secrets').select('value_sealed').where('id', '=', created.secretId).executeTakeFirstOrThrow();
    assert.ok(stored.value_sealed.startsWith('v1.') && !stored.value_sealed.includes('s3cr3t'), 'stored sealed, not in plain text');
    const updated = await Secret.update(created.secretId, 'new-value');
    assert.equal(updated.version, 2);
    const listed = await Secret.list().nextItems();
    assert.deepEqual(listed.map((s) => s.name), ['api-token']);
    const other = await seedTeam(f.t.cp);
    await assert.rejects(Secret.getInfo(created.secretId, { apiKey: other.apiKey }), SecretNotFoundError);
    assert.equal((await Secret.list({ apiKey: other.apiKey }).nextItems()).length, 0);
    const dup = await f.t.api('POST', '/secrets', { auth: f.team.apiKey, body: { name: 'api-token', value: 'x' } });
    assert.equal(dup.status, 409);
    assert.equal(dup.body.code, 409);
    assert.equal(await Secret.destroy('api-token'), true);
    assert.equal(await Secret.destroy('api-token'), false);
  });

  test('a sandbox gets the value of a secret its envs name; an unknown secret is refused', async () => {
    await Secret.create('db-password', 'hunter2-from-secret');
    const sbx = f.track(await Sandbox.create({ timeoutMs: 60_000, envs: { DB_PASSWORD: '${e2b.secrets.db-password}', PLAIN: 'x' } }));
    const out = await sbx.commands.run('echo "$DB_PASSWORD $PLAIN"');
    assert.equal(out.stdout, 'hunter2-from-secret x\n');
    await sbx.kill();
    const before = await f.t.api('GET', '/v1/capsules', { auth: f.team.apiKey });
    await assert.rejects(Sandbox.create({ timeoutMs: 60_000, envs: { X: '${e2b.secrets.nope}' } }), (err: unknown) => err instanceof SandboxError && /nope/.test(err.message));
    const afterList = await f.t.api('GET', '/v1/capsules', { auth: f.team.apiKey });
    assert.equal(afterList.body.length, before.body.length, 'no capsule was made');
    await Secret.destroy('db-password');
  });
});

/**
 * `wrenn templates build` from a Dockerfile with a build context, shown step by step, then
 * `wrenn templates ls|rm` and `wrenn builds ls|logs|cancel`, against a real control plane
 * and host agent (the template built lands in the shared test cache: always removed).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from '@wrenn/control-plane/testing';
import { Wrenn } from '@wrenn/sdk';
import { cleanEnv, spawnWrenn, wrenn } from './cli-helpers.js';

let t: TestControlPlane;
let team: SeededTeam;
let env: NodeJS.ProcessEnv;
let work: string;
const name = `cli-build-${randomBytes(3).toString('hex')}`;

before(async () => {
  t = await startControlPlane({ withAgent: true });
  team = await seedTeam(t.cp);
  work = mkdtempSync(join(tmpdir(), 'wrenn-cli-build-'));
  env = cleanEnv({ WRENN_API_URL: t.url, WRENN_API_KEY: team.apiKey, XDG_CONFIG_HOME: join(work, 'config') });
});

after(async () => {
  const sdk = new Wrenn({ baseUrl: t.url, apiKey: team.apiKey });
  await sdk.builds.deleteTemplate(name).catch(() => {});
  await t?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('wrenn templates build', () => {
  test('builds a Dockerfile with its context, showing each step, and the template works', async () => {
    const ctx = join(work, 'app');
    mkdirSync(ctx);
    writeFileSync(join(ctx, 'hello.txt'), 'from the context\n');
    writeFileSync(
      join(ctx, 'Dockerfile'),
      ['FROM minimal', 'ARG WHO=builder', 'ENV WHO=$WHO', 'WORKDIR /opt/app', 'COPY hello.txt .', 'RUN echo "step output for $WHO" && cat hello.txt'].join('\n'),
    );
    const r = await wrenn(['templates', 'build', '-f', join(ctx, 'Dockerfile'), '--context', ctx, '--name', name, '--skip-pre-post'], env, { timeoutMs: 300_000 });
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.split('\n').filter(Boolean).pop(), name);
    assert.match(r.stdout, /step output for builder\nfrom the context\n/);
    assert.match(r.stderr, /\[1\/\d+\] ENV WHO=builder/);
    assert.match(r.stderr, /\[4\/\d+\] RUN echo "step output for builder" && cat hello.txt\n/);
    assert.match(r.stderr, /ok in \d+\.\d s/);

    assert.match((await wrenn(['templates', 'ls'], env)).stdout, new RegExp(`${name}\\s+base\\s+\\S+ \\S+\\s+team\\s+bld-`));
    const builds = await wrenn(['builds', 'ls'], env);
    assert.match(builds.stdout, new RegExp(`bld-\\S+\\s+${name}\\s+success`));
    const id = /(bld-\S+)/.exec(builds.stdout)![1]!;
    const logs = await wrenn(['builds', 'logs', id], env);
    assert.match(logs.stdout, /from the context/);
    assert.match(logs.stdout, /success\n$/);

    const capsule = (await wrenn(['capsules', 'create', '-t', name], env)).stdout.trim();
    try {
      const out = await wrenn(['exec', capsule, '--', 'sh', '-c', 'echo "$WHO"; pwd; cat hello.txt'], env);
      assert.equal(out.stdout, 'builder\n/opt/app\nfrom the context\n');
      assert.equal((await wrenn(['templates', 'rm', name], env)).code, 1);
    } finally {
      await wrenn(['capsules', 'rm', capsule], env);
    }
    const rm = await wrenn(['templates', 'rm', name], env);
    assert.equal(rm.code, 0, rm.stderr);
  });

  test('a failing recipe exits 1 with the step output; builds cancel stops a running build', async () => {
    const recipe = join(work, 'Recipefile');
    writeFileSync(recipe, 'RUN echo about to fail >&2; exit 7\n');
    const failed = await wrenn(['templates', 'build', '-f', recipe, '--name', `cli-fail-${randomBytes(3).toString('hex')}`, '--skip-pre-post'], env, { timeoutMs: 120_000 });
    assert.equal(failed.code, 1);
    assert.match(failed.stderr, /about to fail/);
    assert.match(failed.stderr, /failed \(exit 7\)/);

    const bad = await wrenn(['templates', 'build', '-f', recipe, '--name', 'Bad Name'], env);
    assert.equal(bad.code, 1);

    writeFileSync(recipe, 'RUN sleep 600\n');
    const started = await wrenn(['templates', 'build', '-f', recipe, '--name', `cli-cancel-${randomBytes(3).toString('hex')}`, '--skip-pre-post', '--detach'], env);
    assert.equal(started.code, 0, started.stderr);
    const id = started.stdout.trim();
    const follower = spawnWrenn(['builds', 'logs', id, '-f'], env);
    let followed = '';
    follower.stderr!.on('data', (b: Buffer) => (followed += b.toString()));
    const ended = new Promise<number | null>((resolve) => follower.on('close', resolve));
    const sdk = new Wrenn({ baseUrl: t.url, apiKey: team.apiKey });
    for (let i = 0; i < 200 && (await sdk.builds.get(id)).status !== 'running'; i++) await new Promise((r) => setTimeout(r, 100));
    const cancel = await wrenn(['builds', 'cancel', id], env);
    assert.equal(cancel.code, 0, cancel.stderr);
    assert.equal(await ended, 1);
    assert.match(followed, /cancelled/);
  });
});

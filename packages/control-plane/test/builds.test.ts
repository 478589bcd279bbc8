/**
 * Template builds through the REST API with a real host agent and real capsules: a build
 * with every instruction checked inside a capsule created from its result; START with a
 * healthcheck gives a snapshot template whose process runs in new capsules; cancel stops a
 * running step at once and removes the build capsule; a step timeout and a failing step
 * fail the build with their output; bad recipes and hostile archives are refused before
 * any capsule starts; templates are the team's own and cannot be deleted while in use.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import tarStream from 'tar-stream';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';
import { waitFor } from './host-fixtures.js';

const uniq = () => `${process.pid}-${randomBytes(3).toString('hex')}`;

async function tarOf(entries: Array<{ name: string; type?: 'file' | 'symlink'; data?: string; linkname?: string }>): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (d: unknown) => chunks.push(d as Buffer));
  const done = new Promise<void>((r) => pack.on('end', () => r()));
  for (const e of entries) {
    if (e.type === 'symlink') pack.entry({ name: e.name, type: 'symlink', linkname: e.linkname! });
    else await new Promise<void>((r, j) => pack.entry({ name: e.name, size: Buffer.byteLength(e.data ?? '') }, e.data ?? '', (err) => (err ? j(err) : r())));
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

describe('template builds API', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let other: SeededTeam;
  let admin: SeededTeam;
  const templates: Array<{ name: string; auth: () => string; prefix: string }> = [];
  const capsules: Array<{ id: string; auth: string }> = [];

  const multipart = async (path: string, auth: string, config: unknown, archive?: Buffer) => {
    const form = new FormData();
    form.append('config', JSON.stringify(config));
    if (archive) form.append('archive', new Blob([archive]), 'context.tar.gz');
    const res = await fetch(`${t.url}${path}`, { method: 'POST', headers: { 'x-api-key': auth }, body: form });
    return { status: res.status, body: (await res.json()) as any };
  };

  const waitBuild = async (id: string, auth: string, until: (b: any) => boolean, timeoutMs = 240_000) =>
    waitFor(
      `build ${id}`,
      async () => {
        const r = await t.api('GET', `/v1/builds/${id}`, { auth });
        return until(r.body) ? r.body : undefined;
      },
      timeoutMs,
      250,
    );

  const sh = async (id: string, auth: string, script: string) => {
    const r = await t.api('POST', `/v1/capsules/${id}/exec`, { auth, body: { cmd: '/bin/sh', args: ['-c', script] } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body as { stdout: string; stderr: string; exit_code: number };
  };

  before(async () => {
    // One build at a time on the host: the cancel test checks that a second one waits.
    t = await startControlPlane({ withAgent: true, env: { WRENN_BUILDS_PER_HOST: '1' } });
    team = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
    admin = await seedTeam(t.cp, { isAdmin: true });
  });

  after(async () => {
    for (const c of capsules) await t?.api('DELETE', `/v1/capsules/${c.id}`, { auth: c.auth }).catch(() => {});
    // Built templates land in the shared template cache of the test agent: always removed.
    for (const tpl of templates) await t?.api('DELETE', `${tpl.prefix}/templates/${tpl.name}`, { auth: tpl.auth() }).catch(() => {});
    await t?.close();
  });

  test('a parse error names the line before any capsule starts; Dockerfiles are parsed too', async () => {
    const bad = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: `bad-${uniq()}`, recipe: ['RUN true', 'ENV NOEQUALS'], skip_pre_post: true } });
    assert.equal(bad.status, 400, JSON.stringify(bad.body));
    assert.equal(bad.body.error.code, 'invalid_request');
    assert.equal(bad.body.error.reason, 'invalid_recipe');
    assert.match(bad.body.error.message, /^line 2: "NOEQUALS" has no '=' \(expected ENV NAME=value/);
    const docker = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: `bad-${uniq()}`, dockerfile: 'FROM ubuntu:22.04\nRUN true' } });
    assert.equal(docker.status, 400);
    assert.match(docker.body.error.message, /Dockerfile line 1: "ubuntu:22.04" is not a Wrenn template/);
    const extra = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: 'x', recipe: ['RUN true'], surprise: 1 } });
    assert.equal(extra.status, 400);
    const coerced = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: 'x', recipe: ['RUN true'], vcpus: '2' } });
    assert.equal(coerced.status, 400);
    const reserved = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: 'minimal', recipe: ['RUN true'] } });
    assert.equal(reserved.status, 409);
    const notAdmin = await t.api('POST', '/v1/admin/builds', { auth: team.jwt, body: { name: `x-${uniq()}`, recipe: ['RUN true'] } });
    assert.equal(notAdmin.status, 403);
    assert.equal((await t.api('GET', '/v1/builds', { auth: team.apiKey })).body.length, 0);
  });

  test('hostile or incomplete build contexts are refused with 400', async () => {
    const cases: Array<[Buffer, RegExp]> = [
      [await tarOf([{ name: '../escape.txt', data: 'x' }]), /leaves the archive/],
      [await tarOf([{ name: '/etc/cron.d/x', data: 'x' }]), /absolute path/],
      [await tarOf([{ name: 'link', type: 'symlink', linkname: '../../../etc/shadow' }]), /points outside the context/],
      [await tarOf([{ name: 'abs', type: 'symlink', linkname: '/etc/shadow' }]), /absolute path/],
      [await tarOf([{ name: 'present.txt', data: 'x' }]), /COPY source "missing.txt" is not in the build context/],
    ];
    for (const [archive, what] of cases) {
      const r = await multipart('/v1/builds', team.apiKey, { name: `ctx-${uniq()}`, recipe: ['COPY missing.txt /tmp/'], skip_pre_post: true }, archive);
      assert.equal(r.status, 400, JSON.stringify(r.body));
      assert.match(r.body.error.message, what);
    }
  });

  test('a build with every instruction, checked inside a capsule created from the result', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'wrenn-build-ctx-'));
    const name = `every-${uniq()}`;
    try {
      mkdirSync(join(dir, 'src/lib'), { recursive: true });
      writeFileSync(join(dir, 'src/main.py'), 'print("main")\n');
      writeFileSync(join(dir, 'src/lib/secret.txt'), 'only mine\n');
      chmodSync(join(dir, 'src/lib/secret.txt'), 0o600);
      writeFileSync(join(dir, 'tool.sh'), '#!/bin/sh\necho tool ran\n');
      chmodSync(join(dir, 'tool.sh'), 0o755);
      const archive = execFileSync('tar', ['-cz', '-C', dir, 'src', 'tool.sh']);
      const recipe = [
        '# every instruction',
        'RUN echo root-step > /root-marker',
        'USER alice',
        'WORKDIR $HOME/app',
        `ENV GREETING="hello world" APP_HOME=$HOME/app PATH=$HOME/bin:$PATH SINGLE='$NOT_EXPANDED'`,
        'COPY src/ ./',
        'COPY tool.sh $HOME/bin/',
        'RUN --timeout=30s test "$(whoami)" = alice && test "$PWD" = /home/alice/app && sudo -n true && echo "$GREETING" > greeting.txt',
        'RUN echo last > last.txt',
      ];
      const created = await multipart('/v1/builds', team.apiKey, { name, recipe, skip_pre_post: true }, archive);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      templates.push({ name, auth: () => team.apiKey, prefix: '/v1' });
      assert.equal(created.body.status, 'pending');
      assert.equal(created.body.total_steps, 8 + 2);
      const done = await waitBuild(created.body.id, team.apiKey, (b) => ['success', 'failed', 'cancelled'].includes(b.status));
      assert.equal(done.status, 'success', JSON.stringify(done, null, 1));
      assert.equal(done.template_type, 'base');
      assert.equal(done.default_user, 'alice');
      assert.deepEqual(done.default_env, { GREETING: 'hello world', APP_HOME: '/home/alice/app', PATH: done.default_env.PATH, SINGLE: '$NOT_EXPANDED' });
      assert.match(done.default_env.PATH, /^\/home\/alice\/bin:\/usr/);
      assert.equal(done.current_step, done.total_steps);
      assert.ok(done.logs.every((l: any) => l.ok && l.exit === 0 && typeof l.elapsed_ms === 'number'), JSON.stringify(done.logs));
      assert.ok(done.completed_at && done.started_at);
      // The build capsule is gone.
      assert.ok(!(await t.agent!.client.list({})).capsules.some((c) => c.id === done.sandbox_id));

      const listed = await t.api('GET', '/v1/templates', { auth: team.apiKey });
      assert.ok(listed.body.some((x: any) => x.name === name && x.type === 'base' && x.build_id === done.id));
      assert.ok(!(await t.api('GET', '/v1/templates', { auth: other.apiKey })).body.some((x: any) => x.name === name));
      assert.equal((await t.api('POST', '/v1/capsules', { auth: other.apiKey, body: { template: name } })).status, 404);

      const capsule = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { template: name, envs: { CALLER: 'yes' } } });
      assert.equal(capsule.status, 201, JSON.stringify(capsule.body));
      capsules.push({ id: capsule.body.id, auth: team.apiKey });
      const out = await sh(
        capsule.body.id,
        team.apiKey,
        'whoami; echo "$HOME"; pwd; echo "$GREETING|$APP_HOME|$SINGLE|$CALLER"; echo "$PATH"; tool.sh; ' +
          'stat -c "%U %a %n" main.py lib lib/secret.txt /home/alice/bin/tool.sh; cat greeting.txt last.txt /root-marker; sudo -n whoami',
      );
      assert.equal(out.exit_code, 0, out.stderr);
      const lines = out.stdout.trim().split('\n');
      assert.deepEqual(lines.slice(0, 4), ['alice', '/home/alice', '/home/alice/app', 'hello world|/home/alice/app|$NOT_EXPANDED|yes']);
      assert.match(lines[4]!, /^\/home\/alice\/bin:/);
      assert.deepEqual(lines.slice(5), [
        'tool ran',
        'alice 644 main.py',
        'alice 755 lib',
        'alice 600 lib/secret.txt',
        'alice 755 /home/alice/bin/tool.sh',
        'hello world',
        'last',
        'root-step',
        'root',
      ]);

      // In use: refused; then deleted once the capsule is gone.
      const refused = await t.api('DELETE', `/v1/templates/${name}`, { auth: team.apiKey });
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal((await t.api('DELETE', `/v1/templates/${name}`, { auth: other.apiKey })).status, 404);
      assert.equal((await t.api('DELETE', `/v1/capsules/${capsule.body.id}`, { auth: team.apiKey })).status, 204);
      capsules.pop();
      assert.equal((await t.api('DELETE', `/v1/templates/${name}`, { auth: team.apiKey })).status, 204);
      assert.ok(!(await t.agent!.client.listTemplates({})).templates.some((x) => x.name === name));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('START with a healthcheck gives a snapshot template whose process runs in new capsules (admin build)', async () => {
    const name = `served-${uniq()}`;
    const created = await t.api('POST', '/v1/admin/builds', {
      auth: admin.jwt,
      body: {
        name,
        recipe: ['RUN mkdir -p /srv/www && echo served-by-start > /srv/www/index.html', 'START python3 -m http.server 8123 --bind 127.0.0.1 --directory /srv/www'],
        healthcheck: 'python3 -c "import urllib.request; urllib.request.urlopen(\'http://127.0.0.1:8123/\', timeout=2)"',
        skip_pre_post: true,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    templates.push({ name, auth: () => admin.jwt, prefix: '/v1/admin' });
    assert.equal(created.body.team_id, null);
    const done = await waitFor(
      'admin build',
      async () => {
        const r = await t.api('GET', `/v1/admin/builds/${created.body.id}`, { auth: admin.jwt });
        return ['success', 'failed', 'cancelled'].includes(r.body.status) ? r.body : undefined;
      },
      240_000,
      250,
    );
    assert.equal(done.status, 'success', JSON.stringify(done, null, 1));
    assert.equal(done.template_type, 'snapshot');
    assert.ok(done.logs.some((l: any) => l.phase === 'healthcheck' && l.ok));
    // A platform template: every team may use it.
    const capsule = await t.api('POST', '/v1/capsules', { auth: other.apiKey, body: { template: name } });
    assert.equal(capsule.status, 201, JSON.stringify(capsule.body));
    capsules.push({ id: capsule.body.id, auth: other.apiKey });
    const out = await sh(capsule.body.id, other.apiKey, `python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8123/index.html').read().decode().strip())"`);
    assert.equal(out.stdout.trim(), 'served-by-start', out.stderr);
    assert.equal((await t.api('DELETE', `/v1/admin/templates/${name}`, { auth: admin.jwt })).status, 409);
    const admins = await t.api('GET', '/v1/admin/templates', { auth: admin.jwt });
    assert.ok(admins.body.some((x: any) => x.name === name && x.type === 'snapshot' && x.team_id === null));
  });

  test('cancel stops the running step at once and removes the build capsule', async () => {
    const name = `cancel-${uniq()}`;
    const created = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name, recipe: ['RUN echo started; sleep 600'], skip_pre_post: true } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const running = await waitBuild(created.body.id, team.apiKey, (b) => b.status === 'running' && b.logs.some((l: any) => l.running && l.stdout.includes('started')), 60_000);
    assert.equal(running.current_step, 1);
    // WRENN_BUILDS_PER_HOST=1: a second build waits while this one runs.
    const queued = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: `queued-${uniq()}`, recipe: ['RUN exit 1'], skip_pre_post: true } });
    assert.equal(queued.status, 201);
    await new Promise((r) => setTimeout(r, 2500));
    assert.equal((await t.api('GET', `/v1/builds/${queued.body.id}`, { auth: team.apiKey })).body.status, 'pending');
    const started = Date.now();
    assert.equal((await t.api('POST', `/v1/builds/${created.body.id}/cancel`, { auth: team.apiKey })).status, 204);
    await waitFor('build capsule destroyed', async () => !(await t.agent!.client.list({})).capsules.some((c) => c.id === running.sandbox_id), 20_000, 100);
    assert.ok(Date.now() - started < 15_000);
    const after = await t.api('GET', `/v1/builds/${created.body.id}`, { auth: team.apiKey });
    assert.equal(after.body.status, 'cancelled');
    const again = await t.api('POST', `/v1/builds/${created.body.id}/cancel`, { auth: team.apiKey });
    assert.equal(again.status, 409);
    assert.equal((await t.api('POST', `/v1/builds/${created.body.id}/cancel`, { auth: other.apiKey })).status, 404);
    assert.ok(!(await t.api('GET', '/v1/templates', { auth: team.apiKey })).body.some((x: any) => x.name === name));
    assert.ok(after.body.logs[0].stderr.includes('stopped'), JSON.stringify(after.body.logs));
    // Once the slot is free the queued build runs (and fails on its own step).
    const next = await waitBuild(queued.body.id, team.apiKey, (b) => b.status === 'failed', 60_000);
    assert.ok(new Date(next.started_at).getTime() >= new Date(after.body.completed_at).getTime() - 1000);
  });

  test('a step timeout and a failing step fail the build with their output', async () => {
    const slow = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: `slow-${uniq()}`, recipe: ['RUN echo ok', 'RUN --timeout=2s echo before-timeout; sleep 60'], skip_pre_post: true } });
    const failing = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: `fail-${uniq()}`, recipe: ['RUN echo broken-dependency >&2; exit 3', 'RUN echo never'], skip_pre_post: true } });
    assert.equal(slow.status, 201);
    assert.equal(failing.status, 201);
    const s = await waitBuild(slow.body.id, team.apiKey, (b) => ['success', 'failed', 'cancelled'].includes(b.status));
    assert.equal(s.status, 'failed');
    assert.match(s.error, /step 2 \(RUN --timeout=2s .*\) timed out after 2000 ms/);
    const last = s.logs[s.logs.length - 1];
    assert.equal(last.timed_out, true);
    assert.match(last.stdout, /before-timeout/);
    assert.ok(last.elapsed_ms >= 2000 && last.elapsed_ms < 30_000, String(last.elapsed_ms));
    const f = await waitBuild(failing.body.id, team.apiKey, (b) => ['success', 'failed', 'cancelled'].includes(b.status));
    assert.equal(f.status, 'failed');
    assert.match(f.error, /step 1 .* exited with 3: broken-dependency/);
    assert.equal(f.logs.length, 1);
    assert.equal(f.logs[0].exit, 3);
    for (const b of [s, f]) assert.ok(!(await t.agent!.client.list({})).capsules.some((c) => c.id === b.sandbox_id));
  });

  test('an agent restart mid-build fails the build with the reason', async () => {
    const created = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name: `restart-${uniq()}`, recipe: ['RUN echo started; sleep 600'], skip_pre_post: true } });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const running = await waitBuild(created.body.id, team.apiKey, (b) => b.status === 'running' && b.logs.some((l: any) => l.running && l.stdout.includes('started')), 60_000);
    try {
      await t.agent!.restart();
      // The restarted agent listens on a new port: point the host at it, as its registration would.
      await t.cp.ctx.db.updateTable('hosts').set({ agent_url: `http://127.0.0.1:${t.agent!.agent.port}` }).where('id', '=', t.hostId!).execute();
      const failed = await waitBuild(created.body.id, team.apiKey, (b) => b.status !== 'running', 60_000);
      assert.equal(failed.status, 'failed');
      assert.match(failed.error, /step 1 \(RUN echo started; sleep 600\) lost the host agent during the step/);
    } finally {
      await t.agent!.client.destroy({ capsuleId: running.sandbox_id }).catch(() => {});
    }
  });

  test('the event stream shows the build live until it ends', async () => {
    const name = `sse-${uniq()}`;
    const created = await t.api('POST', '/v1/builds', { auth: team.apiKey, body: { name, recipe: ['RUN for i in 1 2 3; do echo tick $i; sleep 0.5; done', 'RUN exit 1'], skip_pre_post: true } });
    const res = await fetch(`${t.url}/v1/builds/${created.body.id}/events`, { headers: { 'x-api-key': team.apiKey } });
    assert.equal(res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
    const text = await res.text();
    const events = text.split('\n\n').filter((e) => e.startsWith('event: build')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)));
    assert.ok(events.length >= 3, `${events.length} events`);
    assert.ok(events.some((e) => e.status === 'running' && e.logs[0]?.running && /tick 1/.test(e.logs[0].stdout)), 'a mid-step event with partial output');
    assert.equal(events[events.length - 1].status, 'failed');
  });
});

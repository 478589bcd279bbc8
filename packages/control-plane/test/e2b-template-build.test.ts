/**
 * The e2b SDK's `Template` builder against Wrenn (real package, real server, real build
 * capsule): a template built with fromTemplate/runCmd/copy/setEnvs/setWorkdir/setUser/
 * setStartCmd is then what `Sandbox.create` starts (user, env, workdir, copied file, the
 * start command's process running); a registry image is refused naming the templates
 * there are; another team sees neither the build nor the template.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Sandbox, Template } from 'e2b';
import { seedTeam } from './harness.js';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

describe('e2b Template builder', () => {
  let fx: E2bFixture;
  let dir: string;

  before(async () => {
    fx = await startE2bFixture();
    dir = mkdtempSync(join(tmpdir(), 'wrenn-e2b-template-'));
    writeFileSync(join(dir, 'hello.txt'), 'hello from the build context\n');
  });
  after(async () => {
    await fx?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('a template built with the SDK is what Sandbox.create starts: user, env, workdir, copied file, start command running', async () => {
    const name = `e2b-tpl-${randomUUID().slice(0, 8)}`;
    const template = Template({ fileContextPath: dir })
      .fromTemplate('base')
      .runCmd('mkdir -p /home/user/app')
      .copy('hello.txt', '/home/user/app/hello.txt', { mode: 0o640 })
      .setEnvs({ GREETING: 'hi there', EMPTY_ISH: 'a "quoted" value' })
      .setWorkdir('/home/user/app')
      .runCmd('id -un > /home/user/app/built-by.txt', { user: 'root' })
      .setUser('user')
      .setStartCmd('python3 -m http.server 8080 --directory /home/user/app', 'curl -sf http://127.0.0.1:8080/hello.txt');
    const logs: string[] = [];
    const built = await Template.build(template, name, { onBuildLogs: (l) => logs.push(String(l.message)) });
    assert.equal(built.templateId, name);
    assert.ok(logs.some((l) => /COPY/.test(l)), `the build's steps were streamed: ${logs.join('\n')}`);
    assert.equal(await Template.exists(name), true);

    const sbx = fx.track(await Sandbox.create(name));
    const r = await sbx.commands.run('id -un; echo "$GREETING"; echo "$EMPTY_ISH"; cat hello.txt; stat -c %a:%U hello.txt; cat built-by.txt; pwd');
    assert.deepEqual(r.stdout.trim().split('\n'), ['user', 'hi there', 'a "quoted" value', 'hello from the build context', '640:user', 'root', '/home/user/app']);
    // The start command runs in the sandbox: it serves the copied file.
    const served = await sbx.commands.run('curl -sf http://127.0.0.1:8080/hello.txt');
    assert.equal(served.stdout, 'hello from the build context\n');
    await sbx.kill();

    // The build is an ordinary team build (native API), and its template a team template.
    const builds = await fx.t.api('GET', '/v1/builds', { auth: fx.team.apiKey });
    assert.ok((builds.body as Array<{ name: string; status: string }>).some((b) => b.name === name && b.status === 'success'));

    // Another team: neither the build status nor the template.
    const other = await seedTeam(fx.t.cp);
    const status = await fx.t.api('GET', `/templates/${name}/builds/${built.buildId}/status`, { auth: other.apiKey, headers: { 'x-api-key': other.apiKey } });
    assert.equal(status.status, 404);
    const create = await fx.t.api('POST', '/sandboxes', { auth: other.apiKey, headers: { 'x-api-key': other.apiKey }, body: { templateID: name } });
    assert.equal(create.status, 404, JSON.stringify(create.body));

    // Deleting it frees the name.
    const del = await fx.t.api('DELETE', `/v1/templates/${name}`, { auth: fx.team.apiKey });
    assert.equal(del.status, 204, JSON.stringify(del.body));
    assert.equal(await Template.exists(name), false);
  });

  test('fromImage of a registry image is refused with the templates that exist; a mapped image is not', async () => {
    const name = `e2b-img-${randomUUID().slice(0, 8)}`;
    await assert.rejects(Template.build(Template().fromImage('ubuntu:22.04').runCmd('true'), name), (err: Error) => {
      assert.match(err.message, /ubuntu:22\.04.*cannot be pulled/);
      assert.match(err.message, /base.*code-interpreter.*minimal.*node.*python/s);
      return true;
    });
    // Nothing was left building.
    const builds = await fx.t.api('GET', '/v1/builds', { auth: fx.team.apiKey });
    assert.ok(!(builds.body as Array<{ name: string }>).some((b) => b.name === name));
    // A files hash that is not one is refused before anything is stored.
    const bad = await fx.t.api('GET', `/templates/${name}/files/not-a-hash`, { auth: fx.team.apiKey, headers: { 'x-api-key': fx.team.apiKey } });
    assert.equal(bad.status, 400);
    // An upload URL that was not signed by the server is refused.
    const forged = await fetch(`${fx.t.url}/template-files/${fx.team.teamId}/${'0'.repeat(64)}?exp=${Date.now() + 60_000}&sig=AAAA`, { method: 'PUT', body: 'x' });
    assert.equal(forged.status, 401);
  });
});

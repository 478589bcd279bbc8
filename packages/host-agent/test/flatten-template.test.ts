/**
 * FlattenTemplate with real capsules: a running capsule's root becomes a base template
 * that keeps a file written (not synced) right before the call, carries the default env and
 * user given, is sized at least as its source template (H6), cannot be deleted while a
 * capsule uses it, and does not overwrite an existing name.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Code } from '@connectrpc/connect';
import { TemplateKind } from '@wrenn/proto/hostagent';
import { newCapsuleId, rpcError, sharedTemplates, startTestAgent, text, type TestAgent } from './agent-harness.js';

describe('FlattenTemplate', () => {
  let t: TestAgent;
  const name = `flat-${process.pid}-${randomBytes(3).toString('hex')}`;
  const capsules: string[] = [];

  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
  });

  after(async () => {
    for (const id of capsules) await t?.client.destroy({ capsuleId: id }).catch(() => {});
    // The test agent's templates directory is the shared cache: never leave the template there.
    await t?.client.deleteBaseTemplate({ name }).catch(() => {});
    await t?.close();
  });

  test('flattens a running capsule into a base template that keeps its last write, env and user', async () => {
    const source = newCapsuleId('cl-flat');
    capsules.push(source);
    await t.client.create({ capsuleId: source, template: 'minimal', vcpus: 1, memoryMb: 256 });
    // Written as the last thing before the flatten, without sync: the freeze must flush it.
    const payload = randomBytes(256 * 1024).toString('base64');
    const wrote = await t.client.exec({
      capsuleId: source,
      cmd: '/bin/sh',
      args: ['-c', 'mkdir -p /opt/flat && cat > /opt/flat/data.txt && chown 1000:1000 /opt/flat/data.txt'],
      stdin: Buffer.from(payload),
      user: 'root',
    });
    assert.equal(wrote.exitCode, 0, text(wrote.stderr));

    const res = await t.client.flattenTemplate({ capsuleId: source, name, defaultUser: 'root', defaultEnv: { FLAT_VAR: 'from template', PATH: '/opt/flat:/usr/bin:/bin' } });
    const tpl = res.template!;
    assert.equal(tpl.name, name);
    assert.equal(tpl.kind, TemplateKind.BASE);
    assert.ok(res.addedBytes >= 256n * 1024n, `added ${res.addedBytes} bytes`);
    const minimal = (await t.client.listTemplates({})).templates.find((x) => x.name === 'minimal')!;
    assert.ok(tpl.sizeBytes >= minimal.sizeBytes, `flattened ${tpl.sizeBytes} < minimal ${minimal.sizeBytes}`);

    // The source keeps running (thawed).
    const still = await t.client.exec({ capsuleId: source, cmd: '/bin/sh', args: ['-c', 'echo ok > /tmp/after && cat /tmp/after'] });
    assert.equal(text(still.stdout).trim(), 'ok');

    const child = newCapsuleId('cl-flat-child');
    capsules.push(child);
    await t.client.create({ capsuleId: child, template: name, vcpus: 1, memoryMb: 256, envs: { CALLER: 'x' } });
    const check = await t.client.exec({
      capsuleId: child,
      cmd: '/bin/sh',
      args: ['-c', 'whoami; printf "%s|%s|%s\\n" "$FLAT_VAR" "$CALLER" "$PATH"; stat -c "%u:%g %s" /opt/flat/data.txt; cat /opt/flat/data.txt'],
    });
    const [who, env, owner, data] = text(check.stdout).split('\n');
    assert.equal(who, 'root');
    assert.match(env!, /^from template\|x\|\/opt\/flat:/);
    assert.equal(owner, `1000:1000 ${payload.length}`);
    assert.equal(data, payload);

    // In use: refused; once the capsule is gone, deleted.
    const refused = await rpcError(t.client.deleteBaseTemplate({ name }));
    assert.equal(refused.code, Code.FailedPrecondition, refused.message);
    assert.match(refused.message, /in use/);
    await t.client.destroy({ capsuleId: child });
    capsules.splice(capsules.indexOf(child), 1);

    const dup = await rpcError(t.client.flattenTemplate({ capsuleId: source, name, defaultUser: 'root', defaultEnv: {} }));
    assert.equal(dup.code, Code.AlreadyExists, dup.message);

    await t.client.deleteBaseTemplate({ name });
    assert.ok(!(await t.client.listTemplates({})).templates.some((x) => x.name === name));
    const builtIn = await rpcError(t.client.deleteBaseTemplate({ name: 'minimal' }));
    assert.equal(builtIn.code, Code.FailedPrecondition, builtIn.message);
  });
});

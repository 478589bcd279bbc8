/**
 * Snapshot templates with real capsules: Snapshot saves a running capsule (memory, disk)
 * and leaves it running with its TCP connections; capsules created from the template
 * continue from the snapshot's memory, each with its own disk copy, address, id and
 * hostname, the original's connections closed, and diverge independently; names clash
 * unless overwritten; deleting a template leaves its capsules alone but is refused while
 * one is being created from it; a restarted agent lists snapshot templates again.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { Code } from '@connectrpc/connect';
import { CapsuleStatus, TemplateKind } from '@wrenn/proto/hostagent';
import { run } from '../src/infra/exec.js';
import { TEST_CACHE, newCapsuleId, rpcError, sharedTemplates, startTestAgent, text, type TestAgent } from './agent-harness.js';
import { COUNTER_PY, waitForLine } from './pause-fixtures.js';
import { STATE_PORT, STATE_SERVER_PY, ask, connectWithRetry, establishedOnPort } from './snapshot-template-fixtures.js';

function templateName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

describe('snapshot templates', () => {
  let t: TestAgent;
  let source: string;
  let sourceAddress: string;
  let name: string;
  const sockets: Array<{ destroy(): void }> = [];
  const clones: string[] = [];

  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
    source = newCapsuleId('cl-src');
    name = templateName('snap');
    const created = await t.client.create({ capsuleId: source, template: 'minimal', vcpus: 1, memoryMb: 256, envs: { FROM_SOURCE: 'yes' } });
    sourceAddress = created.capsule!.address;
    await t.client.startBackground({ capsuleId: source, cmd: 'python3', args: ['-c', STATE_SERVER_PY, String(STATE_PORT)], tag: 'state' });
    await t.client.startBackground({ capsuleId: source, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t, source, '/tmp/counter.log', 5);
  });

  after(async () => {
    for (const s of sockets) s.destroy();
    await t?.close();
  });

  test('Snapshot saves the running capsule; it keeps running, counting and its TCP connection', async () => {
    const conn = await connectWithRetry(sourceAddress, STATE_PORT);
    sockets.push(conn);
    for (const want of ['1', '2', '3']) assert.equal(await ask(conn, 'inc'), want);
    const before = (await waitForLine(t, source, '/tmp/counter.log', 0)).length;

    const res = await t.client.snapshot({ capsuleId: source, name });
    const tpl = res.template!;
    assert.equal(tpl.name, name);
    assert.equal(tpl.kind, TemplateKind.SNAPSHOT);
    assert.equal(tpl.sourceCapsuleId, source);
    assert.equal(tpl.baseTemplate, 'minimal');
    assert.equal(tpl.memoryMb, 256);
    assert.ok(tpl.memoryBytes > 0n && tpl.sizeBytes > tpl.memoryBytes, `sizes ${tpl.memoryBytes}/${tpl.sizeBytes}`);
    assert.ok(Number(tpl.createdAtMs) > Date.now() - 60_000);

    assert.equal((await t.client.get({ capsuleId: source })).capsule?.status, CapsuleStatus.RUNNING);
    assert.equal(await ask(conn, 'inc'), '4', 'the connection open at snapshot time is alive in the source, its server counting on');
    const values = await waitForLine(t, source, '/tmp/counter.log', before + 10);
    assert.deepEqual(values, values.map((_, i) => i + 1), 'the source counted on without a gap or a reset');
  });

  test('two capsules from the template continue from the snapshot, each with its own address, id and hostname', async () => {
    const [a, b] = [newCapsuleId('cl-ca'), newCapsuleId('cl-cb')];
    const [ra, rb] = await Promise.all([a, b].map((id) => t.client.create({ capsuleId: id, template: name, envs: { CLONE_ENV: id } })));
    clones.push(a, b);
    const addresses = new Set([sourceAddress, ra!.capsule!.address, rb!.capsule!.address]);
    assert.equal(addresses.size, 3, `own addresses: ${[...addresses].join(', ')}`);
    for (const [id, created] of [
      [a, ra!],
      [b, rb!],
    ] as const) {
      assert.equal(created.capsule?.status, CapsuleStatus.RUNNING);
      assert.equal(created.capsule?.template, name);
      assert.equal(created.capsule?.memoryMb, 256, 'the snapshot’s memory by default');
      const r = await t.client.exec({
        capsuleId: id,
        cmd: 'sh',
        args: ['-c', 'cat /run/wrenn/.WRENN_CAPSULE_ID; echo; hostname; cat /etc/hostname; echo "$FROM_SOURCE $CLONE_ENV"; ip -4 -o addr show eth0'],
      });
      const [capsuleId, hostname, etcHostname, envs, addr] = text(r.stdout).split('\n');
      assert.equal(capsuleId, id);
      assert.equal(hostname, id);
      assert.equal(etcHostname, id);
      assert.equal(envs, `yes ${id}`, 'envs of the snapshot, plus the new capsule’s');
      assert.match(addr ?? '', new RegExp(` ${created.capsule!.address.replace(/\./g, '\\.')}/`), 'eth0 has the new address only');
      assert.doesNotMatch(addr ?? '', new RegExp(sourceAddress.replace(/\./g, '\\.')));
      // The counter's memory and its file come from the same instant: one run, no gap.
      const values = await waitForLine(t, id, '/tmp/counter.log', 0, 5);
      assert.deepEqual(values, values.map((_, i) => i + 1), `${id}: the counter went on from the snapshot`);
    }
  });

  test('the connection open at snapshot time is closed in the capsules from the template', async () => {
    for (const id of clones) {
      assert.equal(await establishedOnPort(t, id, STATE_PORT), 0, `${id} has no connection of the source`);
    }
  });

  test('the capsules diverge independently: memory and disk', async () => {
    const [a, b] = clones as [string, string];
    const open = async (id: string) => {
      const s = await connectWithRetry((await t.client.get({ capsuleId: id })).capsule!.address, STATE_PORT);
      sockets.push(s);
      return s;
    };
    const [ca, cb] = [await open(a), await open(b)];
    assert.equal(await ask(ca, 'get'), '3', 'a starts from the value at the snapshot, not the source’s 4');
    assert.equal(await ask(cb, 'get'), '3');
    assert.equal(await ask(ca, 'inc'), '4');
    assert.equal(await ask(ca, 'inc'), '5');
    assert.equal(await ask(cb, 'get'), '3', 'b is unchanged by a');
    assert.equal(await ask(cb, 'inc'), '4');
    assert.equal(await ask(ca, 'get'), '5', 'a is unchanged by b');

    await t.client.exec({ capsuleId: a, cmd: 'sh', args: ['-c', 'echo only-a > /home/wrenn-user/only-a'] });
    const seen = async (id: string) =>
      text((await t.client.exec({ capsuleId: id, cmd: 'sh', args: ['-c', 'cat /home/wrenn-user/only-a 2>/dev/null || echo absent; cat /tmp/state.log | tr "\\n" " "'] })).stdout);
    assert.equal(await seen(a), 'only-a\n1 2 3 4 5 ');
    assert.equal(await seen(b), 'absent\n1 2 3 4 ');
    assert.equal(await seen(source), 'absent\n1 2 3 4 ');
  });

  test('a name that exists is already_exists; a base template name too; overwrite replaces the snapshot', async () => {
    const clash = await rpcError(t.client.snapshot({ capsuleId: source, name }));
    assert.equal(clash.code, Code.AlreadyExists);
    const base = await rpcError(t.client.snapshot({ capsuleId: source, name: 'minimal', overwrite: true }));
    assert.equal(base.code, Code.AlreadyExists);
    assert.equal((await t.client.get({ capsuleId: source })).capsule?.status, CapsuleStatus.RUNNING, 'a refused snapshot leaves the source running');

    // Meanwhile the source is frozen for the dump: other operations get capsule_busy.
    const unnamed = t.client.snapshot({ capsuleId: source });
    let seen = false;
    for (let i = 0; i < 400 && !seen; i++) {
      seen = (await t.client.get({ capsuleId: source })).capsule?.status === CapsuleStatus.PAUSING;
      if (!seen) await new Promise((r) => setTimeout(r, 2));
    }
    assert.ok(seen, 'status pausing (snapshotting) observed');
    const busy = await rpcError(t.client.exec({ capsuleId: source, cmd: 'true' }));
    assert.equal(busy.code, Code.FailedPrecondition);
    assert.match(busy.rawMessage, /snapshotting/);
    const generated = (await unnamed).template!.name;
    assert.match(generated, /^cl-src[0-9a-f]+-snap-[0-9a-f]{6}$/, 'a name is generated when none is given');
    await t.client.deleteTemplate({ name: generated });

    const conn = await connectWithRetry(sourceAddress, STATE_PORT);
    sockets.push(conn);
    assert.equal(await ask(conn, 'inc'), '5');
    const first = (await t.client.listTemplates({})).templates.find((x) => x.name === name)!;
    const replaced = (await t.client.snapshot({ capsuleId: source, name, overwrite: true })).template!;
    assert.ok(replaced.createdAtMs > first.createdAtMs);
    const id = newCapsuleId('cl-cc');
    const created = await t.client.create({ capsuleId: id, template: name });
    clones.push(id);
    const s = await connectWithRetry(created.capsule!.address, STATE_PORT);
    sockets.push(s);
    assert.equal(await ask(s, 'get'), '5', 'capsules start from the new snapshot');
  });

  test('Create from a snapshot refuses less memory or a larger disk than the snapshot', async () => {
    const less = await rpcError(t.client.create({ capsuleId: newCapsuleId('cl-cm'), template: name, memoryMb: 128 }));
    assert.equal(less.code, Code.InvalidArgument);
    assert.match(less.rawMessage, /at least the 256 MB/);
    const disk = await rpcError(t.client.create({ capsuleId: newCapsuleId('cl-cd'), template: name, diskSizeMb: 100_000 }));
    assert.equal(disk.code, Code.InvalidArgument);
  });

  test('ListTemplates lists base and snapshot templates; a restarted agent lists the snapshot again', async () => {
    const kinds = async () => new Map((await t.client.listTemplates({})).templates.map((x) => [x.name, x.kind]));
    const before = await kinds();
    assert.equal(before.get('minimal'), TemplateKind.BASE);
    assert.equal(before.get(name), TemplateKind.SNAPSHOT);
    await t.restart();
    assert.deepEqual(await kinds(), before);
    for (const id of [source, ...clones]) assert.equal((await t.client.get({ capsuleId: id })).capsule?.status, CapsuleStatus.RUNNING, id);
  });

  test('deleting the template leaves its capsules running; they pause and resume without it', async () => {
    const notFound = await rpcError(t.client.deleteTemplate({ name: templateName('none') }));
    assert.equal(notFound.code, Code.NotFound);
    const base = await rpcError(t.client.deleteTemplate({ name: 'minimal' }));
    assert.equal(base.code, Code.FailedPrecondition);

    await t.client.deleteTemplate({ name });
    assert.equal(existsSync(t.agent.manager.snapshotTemplates!.store.dirOf(name)), false);
    assert.equal((await t.client.listTemplates({})).templates.some((x) => x.name === name), false);
    const gone = await rpcError(t.client.create({ capsuleId: newCapsuleId('cl-cg'), template: name }));
    assert.equal(gone.code, Code.NotFound);
    for (const id of clones) assert.equal((await t.client.exec({ capsuleId: id, cmd: 'true' })).exitCode, 0, id);
    const a = clones[0]!;
    await t.client.pause({ capsuleId: a });
    await t.client.resume({ capsuleId: a });
    const s = await connectWithRetry((await t.client.get({ capsuleId: a })).capsule!.address, STATE_PORT);
    sockets.push(s);
    assert.equal(await ask(s, 'get'), '5', 'memory of the capsule, not of the template');
  });
});

describe('snapshot templates with lazy restore', () => {
  const SYSCTL = '/proc/sys/vm/unprivileged_userfaultfd';
  let sysctlBefore: string;
  let t: TestAgent;

  before(async () => {
    await sharedTemplates();
    sysctlBefore = readFileSync(SYSCTL, 'utf8').trim();
    writeFileSync(SYSCTL, '1');
    t = await startTestAgent();
  });

  after(async () => {
    try {
      await t?.agent.manager.pauser?.settled();
      await t?.close();
    } finally {
      writeFileSync(SYSCTL, sysctlBefore);
    }
  });

  test('capsules restored concurrently from one image; the template cannot be deleted while one is being created', async () => {
    assert.ok(t.agent.manager.pauser?.support.lazyPages, 'lazy restore enabled');
    const source = newCapsuleId('cl-ls');
    const name = templateName('lazy');
    await t.client.create({ capsuleId: source, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t.client.startBackground({ capsuleId: source, cmd: 'python3', args: ['-c', 'x = bytearray(64 << 20)\nimport time\nwhile True: time.sleep(1)'], tag: 'mem' });
    await t.client.snapshot({ capsuleId: source, name });

    const ids = [newCapsuleId('cl-la'), newCapsuleId('cl-lb')];
    const creating = Promise.all(ids.map((id) => t.client.create({ capsuleId: id, template: name })));
    const snaps = t.agent.manager.snapshotTemplates!;
    for (let i = 0; i < 2000 && snaps.usersOf(name) === 0; i++) await new Promise((r) => setTimeout(r, 1));
    assert.ok(snaps.usersOf(name) > 0, 'a create from the template was observed in progress');
    const refused = await rpcError(t.client.deleteTemplate({ name }));
    assert.equal(refused.code, Code.FailedPrecondition);
    assert.match(refused.rawMessage, /being created from it/);

    for (const r of await creating) assert.equal(r.capsule?.status, CapsuleStatus.RUNNING);
    for (const id of ids) {
      const r = await t.client.exec({ capsuleId: id, cmd: 'cat', args: ['/run/wrenn/.WRENN_CAPSULE_ID'] });
      assert.equal(text(r.stdout), id);
      assert.ok((await t.client.listProcesses({ capsuleId: id })).processes.some((p) => p.tag === 'mem'), `${id} holds the restored process`);
    }
    await t.agent.manager.pauser!.settled();
    assert.equal(snaps.usersOf(name), 0, 'released once every page is loaded');
    await t.client.deleteTemplate({ name });
    for (const id of ids) assert.equal((await t.client.exec({ capsuleId: id, cmd: 'true' })).exitCode, 0);
  });
});

describe('snapshot failures', () => {
  let t: TestAgent | undefined;
  let mnt: string;
  before(async () => {
    await sharedTemplates();
    mnt = mkdtempSync(join(TEST_CACHE, `snaptplfull-${process.pid}-`));
    // 3 MiB: room for the disk copy of an idle capsule, not for its memory image (~7 MB).
    await run('mount', ['-t', 'tmpfs', '-o', 'size=3m,mode=0711', `wrenn-snaptplfull-${process.pid}`, mnt]);
    t = await startTestAgent({ env: { WRENN_SNAPSHOT_TEMPLATE_DIR: join(mnt, 'templates') } });
  });
  after(async () => {
    await t?.close();
    await run('umount', [mnt], { allowFailure: true });
    rmSync(mnt, { recursive: true, force: true });
  });

  test('a snapshot failing half-way (disk full) leaves the source running and no template behind', async () => {
    const id = newCapsuleId('cl-sf');
    await t!.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t!.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t!, id, '/tmp/counter.log', 3);
    const err = await rpcError(t!.client.snapshot({ capsuleId: id, name: templateName('full') }));
    assert.equal(err.code, Code.ResourceExhausted, err.message);
    assert.equal((await t!.client.get({ capsuleId: id })).capsule?.status, CapsuleStatus.RUNNING);
    // Its disk is writable again and its processes run on from where they were.
    await t!.client.exec({ capsuleId: id, cmd: 'sh', args: ['-c', 'echo ok > /home/wrenn-user/after'] });
    const values = await waitForLine(t!, id, '/tmp/counter.log', 0, 5);
    assert.deepEqual(values, values.map((_, i) => i + 1));
    assert.deepEqual(readdirSync(join(mnt, 'templates', '.tmp')), [], 'the partial snapshot is deleted');
    assert.equal((await t!.client.listTemplates({})).templates.some((x) => x.name.startsWith('full-')), false);
  });

  test('an agent stopped in the middle of a snapshot: after its restart the source runs and the partial template is gone', async () => {
    const id = newCapsuleId('cl-sr');
    await t!.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t!.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t!, id, '/tmp/counter.log', 3);
    // The state a crash during the disk copy leaves: processes and filesystem frozen, record
    // saying snapshotting, a staging dir.
    const manager = t!.agent.manager;
    const record = manager.get(id);
    await t!.agent.runtime.freeze(record.runtimeId);
    const upperMnt = join(manager.store.dirOf(record.runtimeId), 'upper-mnt');
    await run('fsfreeze', ['--freeze', upperMnt]);
    try {
      await manager.store.save({ ...record, status: 'snapshotting' });
      mkdirSync(join(mnt, 'templates', '.tmp', 'crashed-1234', 'memory'), { recursive: true });
      await t!.restart();
    } finally {
      await run('fsfreeze', ['--unfreeze', upperMnt], { allowFailure: true });
    }
    assert.equal((await t!.client.get({ capsuleId: id })).capsule?.status, CapsuleStatus.RUNNING);
    await t!.client.exec({ capsuleId: id, cmd: 'sh', args: ['-c', 'echo ok > /home/wrenn-user/after'] });
    const values = await waitForLine(t!, id, '/tmp/counter.log', 0, 5);
    assert.deepEqual(values, values.map((_, i) => i + 1), 'thawed: the counter goes on');
    assert.deepEqual(readdirSync(join(mnt, 'templates', '.tmp')), []);
  });
});

/**
 * CRIU on this host: the private install (scripts/install-criu.sh) works and is found, the
 * probe tells memory snapshots / lazy restore / filesystem-only apart, dump logs are read
 * correctly after a crash, and a lazy restore (userfaultfd page server) brings a capsule
 * back with its memory.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/infra/exec.js';
import { CRIU_WRAPPER, defaultCriuPath, probeCriu } from '../src/infra/criu/criu-probe.js';
import { criuLogErrors, dumpOutcome } from '../src/infra/criu/dump-log.js';
import { RUNC_CRIU_CONFIG, writeRuncCriuConfigs } from '../src/infra/criu/runc-criu-config.js';
import { REPO, newCapsuleId, sharedTemplates, startTestAgent, type TestAgent } from './agent-harness.js';
import { COUNTER_PY, waitForLine } from './pause-fixtures.js';

describe('CRIU install and probe', () => {
  test('scripts/install-criu.sh is idempotent and leaves a wrapper whose criu check passes', async () => {
    const r = await run('bash', [join(REPO, 'scripts/install-criu.sh')], { timeoutMs: 300_000 });
    assert.match(r.stdout, /criu check passed/);
    assert.ok(existsSync(CRIU_WRAPPER));
    assert.doesNotMatch(readFileSync(CRIU_WRAPPER, 'utf8'), /https?:\/\//, 'no archive address in the wrapper');
    const version = await run(CRIU_WRAPPER, ['--version']);
    assert.match(version.stdout, /Version: 4\./);
    assert.equal(version.stderr, '', 'the private libraries load without loader warnings');
  });

  test('the agent finds the private install unless WRENN_CRIU says otherwise', () => {
    assert.equal(defaultCriuPath({}), CRIU_WRAPPER);
    assert.equal(defaultCriuPath({ WRENN_CRIU: '/x/criu' }), '/x/criu');
  });

  test('probe: memory snapshots here; filesystem-only with a CRIU that does not run', async () => {
    const here = await probeCriu(CRIU_WRAPPER);
    assert.equal(here.memory, true, here.detail);
    assert.match(here.version ?? '', /^4\./);
    const sysctl = readFileSync('/proc/sys/vm/unprivileged_userfaultfd', 'utf8').trim();
    assert.equal(here.lazyPages, sysctl === '1', here.detail);
    const none = await probeCriu('/nonexistent/criu');
    assert.deepEqual([none.memory, none.lazyPages], [false, false]);
    assert.match(none.detail, /not runnable/);
  });

  test('runc gets a CRIU config that locks the network with nftables', async () => {
    const dir = mkdtempSync(join(tmpdir(), `criu-conf-${process.pid}-`));
    try {
      const paths = await writeRuncCriuConfigs(dir);
      assert.equal(readFileSync(paths.default, 'utf8'), RUNC_CRIU_CONFIG);
      assert.match(readFileSync(paths.tcpClose, 'utf8'), /^tcp-close$/m);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('dump log outcome', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), `dumplog-${process.pid}-`));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('none, in progress, abandoned, failed and succeeded dumps are told apart', async () => {
    const log = join(dir, 'dump.log');
    assert.equal(await dumpOutcome(dir), 'none');
    writeFileSync(log, '(00.001) Dumping processes\n');
    assert.equal(await dumpOutcome(dir), 'in-progress');
    const old = new Date(Date.now() - 60_000);
    utimesSync(log, old, old);
    assert.equal(await dumpOutcome(dir), 'abandoned');
    writeFileSync(log, '(00.100) Error (criu/x.c:1): boom: No space left on device\n(00.2) Error (criu/cr-dump.c:1975): Dumping FAILED.\n');
    assert.equal(await dumpOutcome(dir), 'failed');
    assert.deepEqual(await criuLogErrors(dir, 'dump.log'), ['Error (criu/x.c:1): boom: No space left on device', 'Error (criu/cr-dump.c:1975): Dumping FAILED.']);
    writeFileSync(log, '(00.3) Dumping finished successfully\n');
    assert.equal(await dumpOutcome(dir), 'succeeded');
  });
});

describe('lazy restore', () => {
  let t: TestAgent | undefined;
  let sysctlBefore = '0';
  const SYSCTL = '/proc/sys/vm/unprivileged_userfaultfd';
  before(async () => {
    await sharedTemplates();
    // Lazy restore needs restored (user-namespaced) processes to open a userfaultfd; the
    // host setting is restored after the test. Capsule code still cannot: seccomp refuses it.
    sysctlBefore = readFileSync(SYSCTL, 'utf8').trim();
    writeFileSync(SYSCTL, '1');
    t = await startTestAgent();
  });
  after(async () => {
    await t?.close();
    writeFileSync(SYSCTL, sysctlBefore);
  });

  test('memory is served on demand, the capsule runs on at once, the image goes once all pages are in', async () => {
    assert.equal(t!.agent.manager.pauser?.support.lazyPages, true);
    const id = newCapsuleId('cl-lz');
    await t!.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 512 });
    // 64 MB of touched memory, checked after the restore.
    const hold = [
      'import hashlib, signal, time',
      'b = bytearray(64 << 20)',
      'for i in range(0, len(b), 4096): b[i] = (i // 4096) % 251 + 1',
      'open("/tmp/h", "w").write(hashlib.sha256(b).hexdigest())',
      'signal.signal(signal.SIGUSR1, lambda *_: open("/tmp/h2", "w").write(hashlib.sha256(b).hexdigest()))',
      'while True: time.sleep(1)',
    ].join('\n');
    const holder = await t!.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', hold], tag: 'hold' });
    await t!.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t!, id, '/tmp/counter.log', 3);
    const hashOf = async (file: string) => Buffer.from((await t!.client.exec({ capsuleId: id, cmd: 'cat', args: [file] })).stdout).toString();
    while ((await hashOf('/tmp/h')).length !== 64) await new Promise((r) => setTimeout(r, 50));
    await t!.client.pause({ capsuleId: id });
    await t!.client.resume({ capsuleId: id });
    const values = await waitForLine(t!, id, '/tmp/counter.log', 0, 5);
    assert.deepEqual(values, values.map((_, i) => i + 1));
    await t!.agent.manager.pauser!.settled();
    assert.equal(existsSync(t!.agent.manager.pauser!.snapshots.memoryDir(id)), false, 'image deleted after the page server finished');
    // The same process hashes its 64 MB again: every lazily served page came back intact.
    await t!.client.exec({ capsuleId: id, cmd: 'kill', args: ['-USR1', String(holder.pid)] });
    let again = '';
    for (let i = 0; i < 100 && again.length !== 64; i++) {
      await new Promise((r) => setTimeout(r, 50));
      again = await hashOf('/tmp/h2').catch(() => '');
    }
    assert.equal(again, await hashOf('/tmp/h'));
    const procs = await t!.client.listProcesses({ capsuleId: id });
    assert.ok(procs.processes.some((p) => p.tag === 'hold'));
  });
});

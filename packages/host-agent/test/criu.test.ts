/**
 * CRIU on this host: the private install (scripts/install-criu.sh) works and is found, the
 * probe tells memory snapshots / lazy restore / filesystem-only apart, dump logs are read
 * correctly after a crash, and a lazy restore (userfaultfd page server) brings a capsule
 * back with its memory.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../src/infra/exec.js';
import { CRIU_WRAPPER, defaultCriuPath, lazyPagesShim, probeCriu } from '../src/infra/criu/criu-probe.js';
import { criuLogErrors, dumpOutcome } from '../src/infra/criu/dump-log.js';
import { RUNC_CRIU_CONFIG, bundleCriuConfigText, writeRuncCriuConfigs } from '../src/infra/criu/runc-criu-config.js';
import { socketNeedsNetwork, socketsNeedNetwork, type SocketLine } from '../src/infra/net/socket-inventory.js';
import { USERFAULTFD_STATE_DIR } from '../src/infra/criu/userfaultfd-sysctl.js';
import { lazyRestoreDetail } from '../src/start/doctor.js';
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
    // With a C compiler on the host (CI has one), the lazy-pages shim is built and found.
    if ((await run('sh', ['-c', 'command -v cc'], { allowFailure: true })).code === 0) {
      assert.match(r.stdout, /lazy-pages shim/);
      assert.equal((await probeCriu(CRIU_WRAPPER)).lazyPagesPreload, lazyPagesShim(CRIU_WRAPPER));
      assert.ok(lazyPagesShim(CRIU_WRAPPER)?.endsWith('/lib/wrenn/lazy-pages-shim.so'));
    }
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
      assert.equal(bundleCriuConfigText({ tcpClose: false }), RUNC_CRIU_CONFIG);
      assert.equal(bundleCriuConfigText({ tcpClose: true, lockNetwork: false }), 'network-lock skip\ntcp-close\n');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('what a checkpoint needs to keep the network for', () => {
  const line = (table: SocketLine['table'], local: string, remote: string, state: string): SocketLine => ({ table, local, remote, state });
  const ANY = '00000000:0000';

  test('listeners on the wildcard or loopback, unconnected UDP and TIME_WAIT need nothing', () => {
    assert.equal(socketNeedsNetwork(line('tcp', '00000000:C33F', ANY, '0A')), false, 'envd on 0.0.0.0');
    assert.equal(socketNeedsNetwork(line('tcp', '0100007F:1F90', ANY, '0A')), false, '127.0.0.1');
    assert.equal(socketNeedsNetwork(line('tcp6', '00000000000000000000000001000000:1F90', '00000000000000000000000000000000:0000', '0A')), false, '::1');
    assert.equal(socketNeedsNetwork(line('tcp6', '0000000000000000FFFF00000100007F:1F90', '00000000000000000000000000000000:0000', '0A')), false, '::ffff:127.0.0.1');
    assert.equal(socketNeedsNetwork(line('udp', '00000000:0035', ANY, '07')), false);
    assert.equal(socketNeedsNetwork(line('tcp', '0200A00A:C33F', '0100A00A:C6DC', '06')), false, 'TIME_WAIT has no owner');
  });

  test('connections, sockets bound to the capsule address, connected UDP and raw sockets need it', () => {
    assert.equal(socketNeedsNetwork(line('tcp', '0200A00A:C33F', '0100A00A:C6DC', '01')), true, 'established');
    assert.equal(socketNeedsNetwork(line('tcp', '0100007F:1F90', '0100007F:C6DC', '01')), true, 'established over loopback (lo must be up)');
    assert.equal(socketNeedsNetwork(line('tcp', '0200A00A:1F90', ANY, '0A')), true, 'listening on 10.160.0.2');
    assert.equal(socketNeedsNetwork(line('tcp', '0200A00A:C33F', '0100A00A:C6DC', '08')), true, 'CLOSE_WAIT');
    assert.equal(socketNeedsNetwork(line('udp', '00000000:A000', '08080808:0035', '01')), true, 'connected UDP');
    assert.equal(socketNeedsNetwork(line('raw', '00000000:0001', ANY, '07')), true);
  });

  test('a process that is gone is treated as needing the network', async () => {
    assert.equal(await socketsNeedNetwork(2 ** 22 + 1), true);
  });
});

describe('lazy restore settings', () => {
  const SYSCTL = '/proc/sys/vm/unprivileged_userfaultfd';

  test('auto: the agent turns vm.unprivileged_userfaultfd on for its lifetime and the last agent puts 0 back; off leaves it alone', async () => {
    await sharedTemplates();
    const before = readFileSync(SYSCTL, 'utf8').trim();
    try {
      writeFileSync(SYSCTL, '0');
      const off = await startTestAgent({ env: { WRENN_LAZY_RESTORE: 'off' } });
      assert.equal(readFileSync(SYSCTL, 'utf8').trim(), '0');
      assert.equal(off.agent.manager.pauser?.support.lazyPages, false);
      await off.close();
      const auto = await startTestAgent({ env: { WRENN_LAZY_RESTORE: 'auto' } });
      assert.equal(readFileSync(SYSCTL, 'utf8').trim(), '1');
      assert.equal(auto.agent.manager.pauser?.support.lazyPages, true);
      assert.ok(existsSync(join(USERFAULTFD_STATE_DIR, 'holders', String(process.pid))), 'registered as relying on it');
      await auto.close();
      assert.equal(existsSync(join(USERFAULTFD_STATE_DIR, 'holders', String(process.pid))), false, 'no longer registered');
      // Put back unless agents of other processes (test files running beside this one) still rely on it.
      const others = readdirSync(join(USERFAULTFD_STATE_DIR, 'holders')).filter((pid) => existsSync(`/proc/${pid}`));
      assert.equal(readFileSync(SYSCTL, 'utf8').trim(), others.length > 0 ? '1' : '0', `put back when the last agent stopped (others: ${others.join(' ') || 'none'})`);
    } finally {
      writeFileSync(SYSCTL, before);
    }
  });

  test('doctor says what a resume does with memory and what would change it', () => {
    const criu = { criuPath: CRIU_WRAPPER, memory: true, uffd: true, lazyPages: false, detail: '' };
    assert.match(lazyRestoreDetail({ lazyRestore: 'off' }, criu), /^off: .*WRENN_LAZY_RESTORE=off/);
    assert.match(lazyRestoreDetail({ lazyRestore: 'auto' }, { ...criu, uffd: false, detail: 'no uffd' }), /^off: no uffd/);
    assert.match(lazyRestoreDetail({ lazyRestore: 'auto' }, criu), /unprivileged_userfaultfd=0 now; the agent sets it to 1 at start/);
    assert.match(lazyRestoreDetail({ lazyRestore: 'auto' }, criu), /no lazy-pages shim/);
    assert.match(lazyRestoreDetail({ lazyRestore: 'auto' }, { ...criu, lazyPages: true, lazyPagesPreload: '/x/shim.so' }), /^on \(vm.unprivileged_userfaultfd=1; lazy-pages shim \/x\/shim.so\)$/);
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

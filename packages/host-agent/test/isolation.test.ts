/**
 * Isolation of a capsule run by the runc driver, one property per test, each against a real
 * container on a busybox rootfs: what a process inside can see and do, and that runaway
 * processes and memory stay inside the capsule's limits.
 */
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { allCgroupDirs, controllerDir, readKeyed, type CgroupLayout } from '../src/infra/cgroup/index.js';
import { run } from '../src/infra/exec.js';
import { OciRuntime } from '../src/infra/runtime/oci/oci-runtime.js';
import type { SandboxSpec } from '../src/infra/runtime/runtime.js';
import { createRuntimeFixture, waitFor, type RuntimeFixture } from './fixtures/runtime-fixture.js';
import { busyboxSpec, testSandboxId, TINI_IN_CAPSULE, type BusyboxRootfs } from './fixtures/busybox-rootfs.js';

const CAP_SYS_ADMIN = 21n;
const FORBIDDEN_CAP_BITS = { SYS_ADMIN: 21n, SYS_MODULE: 16n, SYS_PTRACE: 19n, SYS_RAWIO: 17n, SYS_BOOT: 22n, SYS_TIME: 25n, NET_ADMIN: 12n };
const HOST_LIB_DIR = '/usr/lib/x86_64-linux-gnu';

describe('capsule isolation', () => {
  let fx: RuntimeFixture;
  let rootfs: BusyboxRootfs;
  let dataDir: string;
  let runtime: OciRuntime;
  let layout: CgroupLayout;

  before(async () => {
    fx = await createRuntimeFixture('isolation');
    ({ rootfs, dataDir, runtime, layout } = fx);
  });

  after(async () => {
    await fx?.close();
  });

  async function withSandbox(
    label: string,
    child: string[],
    overrides: Partial<SandboxSpec>,
    body: (spec: SandboxSpec, pid: number) => Promise<void>,
  ): Promise<void> {
    const id = testSandboxId(label);
    const bundleDir = join(dataDir, 'bundles', id);
    await mkdir(bundleDir, { recursive: true });
    try {
      const { pid } = await runtime.run(busyboxSpec(rootfs, id, bundleDir, child, overrides), AbortSignal.timeout(30_000));
      await body(busyboxSpec(rootfs, id, bundleDir, child, overrides), pid);
    } catch (err) {
      console.error(`sandbox ${id} failed:`, err);
      throw err;
    } finally {
      await runtime.delete(id);
    }
  }

  const sleeper = ['/bin/sleep', '1000'];

  /** Runs a shell snippet inside the capsule (runc exec: same namespaces, caps and seccomp as init). */
  function sh(id: string, script: string) {
    return run('runc', ['--root', runtime.runcRoot, 'exec', id, '/bin/sh', '-c', script], { allowFailure: true, timeoutMs: 60_000 });
  }

  test('a capsule sees only its own processes', async () => {
    await withSandbox('ps', sleeper, {}, async (spec) => {
      const ps = () => run('runc', ['--root', runtime.runcRoot, 'exec', spec.id, 'ps', '-o', 'pid,args'], { timeoutMs: 30_000 });
      // tini may not have forked its child yet when `runc run -d` returns.
      await waitFor(async () => (await ps()).stdout.includes('/bin/sleep 1000\n'), 5000);
      const procs = (await ps()).stdout.trim().split('\n').slice(1);
      assert.deepEqual(
        procs.map((l) => l.trim().replace(/^\d+\s+/, '')),
        [`${TINI_IN_CAPSULE} -s -- /bin/sleep 1000`, '/bin/sleep 1000', 'ps -o pid,args'],
      );
      const hostVisible = await sh(spec.id, `kill -0 ${process.pid}`);
      assert.notEqual(hostVisible.code, 0, 'the test process (a host pid) is not signallable from inside');
      const procDirs = await sh(spec.id, 'ls /proc | grep -c "^[0-9]"');
      assert.ok(Number(procDirs.stdout.trim()) <= 5, `pid dirs in /proc: ${procDirs.stdout}`);
    });
  });

  test('a capsule cannot read host files', async () => {
    const secretDir = await mkdtemp(join(tmpdir(), `wrenn-secret-${process.pid}-`));
    const secretFile = join(secretDir, 'secret.txt');
    try {
      await writeFile(secretFile, 'host secret', { mode: 0o644 });
      await withSandbox('files', sleeper, {}, async (spec) => {
        assert.ok((await stat('/etc/shadow')).isFile(), 'the host has /etc/shadow');
        for (const path of ['/etc/shadow', secretFile, `/proc/1/root${secretFile}`, '/proc/1/root/etc/shadow']) {
          const res = await sh(spec.id, `cat ${path}`);
          assert.notEqual(res.code, 0, `${path} readable`);
          assert.doesNotMatch(res.stdout, /host secret|root:/);
        }
        // /proc/1/root is the capsule's own root (busybox only), not the host's.
        const root = await sh(spec.id, 'ls /proc/1/root/bin/busybox && ls /proc/1/root/usr');
        assert.match(root.stdout, /\/proc\/1\/root\/bin\/busybox/);
        assert.notEqual(root.code, 0, 'the capsule root has no /usr');
      });
    } finally {
      await rm(secretDir, { recursive: true, force: true });
    }
  });

  test('mount inside a capsule is refused (EPERM)', async () => {
    await withSandbox('mount', sleeper, {}, async (spec) => {
      const res = await sh(spec.id, 'mount -t tmpfs x /mnt');
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /permission denied|operation not permitted/i);
      const mounts = await sh(spec.id, 'cat /proc/mounts');
      assert.doesNotMatch(mounts.stdout, / \/mnt /);
      // A nested user namespace (where mount would be allowed) cannot be created either.
      const nested = await sh(spec.id, 'unshare -U -m -r true');
      assert.notEqual(nested.code, 0);
      assert.match(nested.stderr, /Operation not permitted/);
    });
  });

  test('loading a kernel module is refused', async () => {
    await withSandbox('insmod', sleeper, {}, async (spec) => {
      const res = await sh(spec.id, 'head -c 4096 /dev/urandom > /tmp/evil.ko && insmod /tmp/evil.ko');
      assert.notEqual(res.code, 0);
      assert.match(res.stderr, /Operation not permitted/);
    });
  });

  test('kernel tunables cannot be written: /proc/sysrq-trigger and /proc/sys are read-only', async () => {
    await withSandbox('sysrq', sleeper, {}, async (spec) => {
      const sysrq = await sh(spec.id, 'echo h > /proc/sysrq-trigger');
      assert.notEqual(sysrq.code, 0);
      const sysctl = await sh(spec.id, 'echo evil > /proc/sys/kernel/domainname');
      assert.notEqual(sysctl.code, 0);
      assert.match(sysctl.stderr, /Read-only file system/);
      const mounts = await sh(spec.id, 'grep " /proc/sys " /proc/mounts');
      assert.match(mounts.stdout, /\bro\b/);
    });
  });

  test('no process in a capsule holds CAP_SYS_ADMIN or other host-level capabilities', async () => {
    await withSandbox('caps', sleeper, {}, async (spec, pid) => {
      const inside = await sh(spec.id, 'grep -E "^Cap(Eff|Bnd|Prm):" /proc/self/status; grep -E "^CapEff:" /proc/1/status');
      const masks = [...inside.stdout.matchAll(/^Cap\w+:\s*([0-9a-f]+)$/gm)].map((m) => BigInt(`0x${m[1]}`));
      assert.equal(masks.length, 4, inside.stdout);
      const hostView = /^CapEff:\s*([0-9a-f]+)$/m.exec(await readFile(`/proc/${pid}/status`, 'utf8'))?.[1];
      masks.push(BigInt(`0x${hostView}`));
      for (const mask of masks) {
        assert.equal((mask >> CAP_SYS_ADMIN) & 1n, 0n, 'CAP_SYS_ADMIN');
        for (const [name, bit] of Object.entries(FORBIDDEN_CAP_BITS)) assert.equal((mask >> bit) & 1n, 0n, name);
      }
    });
  });

  test('a fork bomb stops at pids.max, the host can still spawn, and delete kills it', async () => {
    const pidsMax = 32;
    const id = testSandboxId('forkbomb');
    const bundleDir = join(dataDir, 'bundles', id);
    await mkdir(bundleDir, { recursive: true });
    const bomb = ['/bin/sh', '-c', 'bomb() { bomb | bomb & }; bomb; sleep 1000'];
    const spec = busyboxSpec(rootfs, id, bundleDir, bomb, { limits: { vcpus: 0.5, memoryMb: 128, pidsMax } });
    try {
      await runtime.run(spec, AbortSignal.timeout(30_000));
      const pidsDir = controllerDir(layout, 'pids', runtime.cgroupPath(id))!;
      await waitFor(async () => (await readKeyed(join(pidsDir, 'pids.events'))).get('max')! > 0, 10_000);
      const current = Number((await readFile(join(pidsDir, 'pids.current'), 'utf8')).trim());
      assert.ok(current <= pidsMax, `pids.current ${current} > ${pidsMax}`);
      const host = await run('/bin/true', [], { timeoutMs: 5000 });
      assert.equal(host.code, 0, 'the host still spawns processes');
      await runtime.delete(id);
      assert.equal(await runtime.state(id), undefined);
      for (const dir of allCgroupDirs(layout, runtime.cgroupPath(id))) await assert.rejects(stat(dir), `${dir} left behind`);
    } finally {
      await runtime.delete(id);
    }
  });

  test('a memory bomb is OOM-killed inside the capsule; the capsule init and the host carry on', async () => {
    const memoryMb = 64;
    await withSandbox('oom', sleeper, { limits: { vcpus: 1, memoryMb, pidsMax: 64 } }, async (spec, pid) => {
      // busybox tail buffers its whole input when it contains no newline: unbounded growth.
      const bomb = await sh(spec.id, 'tail /dev/zero');
      assert.equal(bomb.code, 137, `bomb exit ${bomb.code} ${bomb.stderr}`); // SIGKILL from the OOM killer
      const memDir = controllerDir(layout, 'memory', runtime.cgroupPath(spec.id))!;
      const oomKills =
        layout.mode === 'v2'
          ? (await readKeyed(join(memDir, 'memory.events'))).get('oom_kill')
          : (await readKeyed(join(memDir, 'memory.oom_control'))).get('oom_kill');
      assert.ok((oomKills ?? 0) >= 1, `oom_kill counter ${oomKills}`);
      assert.equal((await runtime.state(spec.id))?.status, 'running');
      assert.ok((await stat(`/proc/${pid}`)).isDirectory(), 'capsule init survived');
      const after = await sh(spec.id, 'echo still here');
      assert.equal(after.stdout.trim(), 'still here');
      const host = await run('/bin/true', [], { timeoutMs: 5000 });
      assert.equal(host.code, 0);
    });
  });

  /** Runs a perl one-liner inside the capsule: the host's perl, through its own loader, as envd's node is. */
  async function withPerl(label: string, body: (perlIn: (script: string) => ReturnType<typeof sh>, spec: SandboxSpec) => Promise<void>) {
    const perl = (await run('readlink', ['-f', '/usr/bin/perl'])).stdout.trim();
    const mounts = [
      ...busyboxSpec(rootfs, 'x', 'x', []).mounts,
      { source: perl, destination: '/.wrenn/bin/perl', readonly: true },
      { source: HOST_LIB_DIR, destination: '/.wrenn/lib', readonly: true },
    ];
    await withSandbox(label, sleeper, { mounts }, async (spec) => {
      const perlIn = (script: string) =>
        run('runc', ['--root', runtime.runcRoot, 'exec', spec.id, '/.wrenn/lib/ld-linux-x86-64.so.2', '--library-path', '/.wrenn/lib', '/.wrenn/bin/perl', '-e', script], {
          allowFailure: true,
          timeoutMs: 30_000,
        });
      await body(perlIn, spec);
    });
  }

  test('ptrace works on the capsule\'s own processes but cannot reach a host pid', async () => {
    // syscall(SYS_ptrace=101, PTRACE_ATTACH=16, pid, 0, 0) on a child of its own, then on a host pid.
    const script = [
      'my $child = fork(); if ($child == 0) { sleep 30; exit 0 }',
      'my $own = syscall(101, 16, $child, 0, 0); my $ownErr = $own == 0 ? "ok" : "$!";',
      'kill 9, $child;',
      `my $host = syscall(101, 16, ${process.pid}, 0, 0); my $hostErr = "$!";`,
      'print "own=$ownErr host=$host $hostErr\\n";',
    ].join(' ');
    await withPerl('ptrace', async (perlIn, spec) => {
      const res = await perlIn(script);
      assert.equal(res.code, 0, res.stderr);
      assert.equal(res.stdout.trim(), 'own=ok host=-1 No such process');
      const init = await sh(spec.id, 'tr "\\0" " " < /proc/1/cmdline');
      assert.match(init.stdout, new RegExp(`^${TINI_IN_CAPSULE}`), 'PID 1 inside is the capsule\'s tini, not the host init');
    });
  });

  test('the seccomp filter refuses dangerous syscalls (EPERM) and io_uring/clone3 (ENOSYS)', async () => {
    // Arguments chosen so that, without the filter, each call would succeed or fail with a
    // different errno (EFAULT, EBADF, EINVAL): only seccomp answers EPERM/ENOSYS here.
    const EPERM = 1;
    const ENOSYS = 38;
    const calls: Array<[name: string, nr: number, args: number[], errno: number]> = [
      ['keyctl(GET_KEYRING_ID)', 250, [0, -1, 0], EPERM],
      ['add_key', 248, [0, 0, 0, 0, 0], EPERM],
      ['userfaultfd(USER_MODE_ONLY)', 323, [1], EPERM],
      ['setns', 308, [-1, 0], EPERM],
      ['perf_event_open', 298, [0, 0, -1, -1, 0], EPERM],
      ['name_to_handle_at', 303, [-100, 0, 0, 0, 0], EPERM],
      ['pivot_root', 155, [0, 0], EPERM],
      ['io_uring_setup', 425, [1, 0], ENOSYS],
      ['clone3', 435, [0, 0], ENOSYS],
    ];
    const script = [
      'my @calls = (' + calls.map(([n, nr, args]) => `["${n}", ${nr}, ${args.join(', ')}]`).join(', ') + ');',
      'for my $c (@calls) { my ($n, $nr, @a) = @$c; my $r = syscall($nr, @a); print "$n ", ($r == -1 ? ($!+0) : "ok"), "\\n"; }',
      'print "getpid ", (syscall(39) > 0 ? "ok" : "fail"), "\\n";',
    ].join(' ');
    await withPerl('seccomp', async (perlIn) => {
      const res = await perlIn(script);
      assert.equal(res.code, 0, res.stderr);
      const expected = [...calls.map(([n, , , errno]) => `${n} ${errno}`), 'getpid ok'];
      assert.deepEqual(res.stdout.trim().split('\n'), expected);
    });
  });
});


/**
 * envd must run on any root filesystem (docs/decisions.md#e8): here a busybox-only rootfs with no libc and no
 * node of its own, with the runtime directory bind-mounted read-only at /.wrenn, exactly as
 * a capsule sees it. The sandbox is a private mount+pid namespace chrooted into the rootfs
 * (the runc driver has its own tests); the network is the host's so the test reaches envd
 * on 127.0.0.1.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, copyFileSync, symlinkSync, writeFileSync, rmSync, existsSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createServer } from 'node:net';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { Process } from '@wrenn/proto/process';
import { ensureEnvdRuntime, envdCommand, envdEnvironment } from '../src/infra/envd-runtime/runtime-dir.js';
import { run } from '../src/infra/exec.js';

const repo = resolve(import.meta.dirname, '../../..');

function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      s.close(() => (typeof addr === 'object' && addr ? res(addr.port) : rej(new Error('no port'))));
    });
  });
}

function busyboxRootfs(dir: string): void {
  for (const d of ['bin', 'etc', 'tmp', 'proc', 'dev', 'root', 'home/user', '.wrenn', 'run']) mkdirSync(join(dir, d), { recursive: true });
  copyFileSync('/usr/bin/busybox', join(dir, 'bin/busybox'));
  for (const applet of ['sh', 'echo', 'cat', 'id', 'ls', 'sleep', 'env', 'pwd']) symlinkSync('busybox', join(dir, 'bin', applet));
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n');
  writeFileSync(join(dir, 'etc/group'), 'root:x:0:\nuser:x:1000:\n');
}

describe('envd on a busybox-only rootfs', () => {
  let root: string;
  let rootfs: string;
  let child: ChildProcess | undefined;
  let port: number;
  let mounted = false;

  before(async () => {
    root = mkdtempSync(join(tmpdir(), `wrenn-e8-${process.pid}-`));
    rootfs = join(root, 'rootfs');
    busyboxRootfs(rootfs);
    // The runtime gives every capsule the standard devices; this bare chroot needs /dev/null.
    await run('mknod', ['-m', '666', join(rootfs, 'dev/null'), 'c', '1', '3']);
    assert.equal(existsSync(join(rootfs, 'lib')), false, 'the rootfs must have no libraries of its own');
    const runtime = await ensureEnvdRuntime(join(root, 'data'), {
      nodeBinary: process.execPath,
      envdDist: join(repo, 'packages/envd/dist'),
      tiniStatic: '/usr/bin/tini-static',
    });
    await run('mount', ['--bind', runtime.dir, join(rootfs, '.wrenn')]);
    mounted = true;
    await run('mount', ['-o', 'remount,bind,ro', join(rootfs, '.wrenn')]);
    port = await freePort();
    const argv = await envdCommand(runtime, port);
    child = spawn('unshare', ['--mount', '--pid', '--fork', '--kill-child', `--root=${rootfs}`, '--mount-proc', ...argv], {
      stdio: ['ignore', 'ignore', 'pipe'],
      env: Object.fromEntries(envdEnvironment({ WRENN_ENVD_HOST: '127.0.0.1' }).map((kv) => kv.split('=', 2) as [string, string])),
    });
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const ok = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.ok, () => false);
      if (ok) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error('envd did not become healthy inside the busybox rootfs');
  });

  after(async () => {
    if (child?.pid && child.exitCode === null) {
      child.kill('SIGKILL');
      await new Promise((r) => child!.once('exit', r));
    }
    if (mounted) await run('umount', [join(rootfs, '.wrenn')], { allowFailure: true });
    rmSync(root, { recursive: true, force: true });
  });

  test('answers /health', async () => {
    const res = await fetch(`http://127.0.0.1:${port}/health`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { status: string }).status, 'ok');
  });

  test('runs a command of the rootfs as a non-root user and streams its output', async () => {
    const client = createClient(Process, createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: '1.1' }));
    let out = '';
    let exit: number | undefined;
    for await (const ev of client.start(
      { process: { cmd: '/bin/sh', args: ['-c', 'id -u; echo "$HOME"; ls /.wrenn'] }, stdin: false },
      { headers: { authorization: `Basic ${Buffer.from('user:').toString('base64')}` } },
    )) {
      const e = ev.event?.event;
      if (e?.case === 'data' && e.value.output.case === 'stdout') out += Buffer.from(e.value.output.value).toString();
      if (e?.case === 'end') exit = e.value.exitCode;
    }
    assert.equal(exit, 0);
    const [uid, home, ...listing] = out.trim().split('\n');
    assert.equal(uid, '1000');
    assert.equal(home, '/home/user');
    assert.ok(listing.join(' ').includes('envd'), `runtime dir visible read-only at /.wrenn: ${listing}`);
  });

  test('the runtime dir is read-only inside', async () => {
    const client = createClient(Process, createConnectTransport({ baseUrl: `http://127.0.0.1:${port}`, httpVersion: '1.1' }));
    let exit: number | undefined;
    for await (const ev of client.start({ process: { cmd: '/bin/sh', args: ['-c', 'echo x > /.wrenn/bin/node'] }, stdin: false })) {
      if (ev.event?.event.case === 'end') exit = ev.event.event.value.exitCode;
    }
    assert.notEqual(exit, 0);
  });

  test('ensureEnvdRuntime is idempotent and content-addressed', async () => {
    const a = await ensureEnvdRuntime(join(root, 'data'), {
      nodeBinary: process.execPath,
      envdDist: join(repo, 'packages/envd/dist'),
      tiniStatic: '/usr/bin/tini-static',
    });
    assert.equal(readdirSync(join(root, 'data', 'envd-runtime')).length, 1);
    assert.ok(existsSync(join(a.dir, 'lib')));
  });
});

/**
 * Isolation as a capsule's code experiences it, through the real agent: it cannot reach the
 * agent or another capsule, and exhausting its own pids, memory or disk hurts only itself.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { sharedTemplates, startTestAgent, newCapsuleId, text, type TestAgent } from './agent-harness.js';

/** Python one-liner run inside a capsule: prints "open" or the error of a TCP connect. */
function probe(host: string, port: number): string[] {
  return [
    '-c',
    `import socket\ns=socket.socket()\ns.settimeout(2)\ntry:\n  s.connect((${JSON.stringify(host)}, ${port})); print("open")\nexcept Exception as e:\n  print(type(e).__name__)`,
  ];
}

describe('capsule isolation through the host agent', () => {
  let t: TestAgent;
  let a: string;
  let b: string;
  let addrA = '';
  let addrB = '';
  let hostServer: Server;
  let hostPort = 0;

  before(async () => {
    await sharedTemplates();
    // A low pids limit so the fork bomb reaches it within the test's seconds.
    t = await startTestAgent({ env: { WRENN_PIDS_MAX: '256' } });
    a = newCapsuleId('cl-a');
    b = newCapsuleId('cl-b');
    addrA = (await t.client.create({ capsuleId: a, template: 'minimal', vcpus: 1, memoryMb: 256, diskSizeMb: 600 })).capsule!.address;
    addrB = (await t.client.create({ capsuleId: b, template: 'minimal', vcpus: 1, memoryMb: 256 })).capsule!.address;
    hostServer = createServer((s) => s.end('host\n'));
    await new Promise<void>((r) => hostServer.listen(0, '0.0.0.0', () => r()));
    hostPort = (hostServer.address() as { port: number }).port;
  });

  after(async () => {
    hostServer?.close();
    await t?.close();
  });

  test("cannot reach the agent's RPC port, on loopback or through the host side of its link", async () => {
    const hostIp = addrA.replace(/\.(\d+)$/, (_, n) => `.${Number(n) - 1}`);
    for (const host of ['127.0.0.1', hostIp]) {
      const r = await t.client.exec({ capsuleId: a, cmd: 'python3', args: probe(host, t.agent.port) });
      assert.notEqual(text(r.stdout).trim(), 'open', `${host}:${t.agent.port} reachable from the capsule`);
    }
  });

  test('cannot reach a service on the host bound to all addresses', async () => {
    const hostIp = addrA.replace(/\.(\d+)$/, (_, n) => `.${Number(n) - 1}`);
    const r = await t.client.exec({ capsuleId: a, cmd: 'python3', args: probe(hostIp, hostPort) });
    assert.notEqual(text(r.stdout).trim(), 'open');
  });

  test("cannot reach another capsule's address, while the host can", async () => {
    await t.client.startBackground({ capsuleId: b, cmd: 'python3', args: ['-m', 'http.server', '8000', '--bind', '0.0.0.0'], tag: 'web' });
    const deadline = Date.now() + 10_000;
    let hostSees = false;
    while (!hostSees && Date.now() < deadline) {
      hostSees = await fetch(`http://${addrB}:8000/`).then((r) => r.ok, () => false);
      if (!hostSees) await new Promise((r) => setTimeout(r, 200));
    }
    assert.ok(hostSees, 'the server in capsule B is up (reachable from the host)');
    const r = await t.client.exec({ capsuleId: a, cmd: 'python3', args: probe(addrB, 8000) });
    assert.notEqual(text(r.stdout).trim(), 'open');
  });

  test('a fork bomb is contained by the pids limit and the agent keeps serving', async () => {
    const bombed = newCapsuleId('cl-bomb');
    await t.client.create({ capsuleId: bombed, template: 'minimal', vcpus: 1, memoryMb: 256 });
    // The bomb may take envd's own stream down with it (no pids left to serve it): a
    // failed exec is as acceptable here as a timed-out one. What matters is below.
    await t.client.exec({ capsuleId: bombed, cmd: '/bin/bash', args: ['-c', 'exec 2>/tmp/bomb.err; bomb() { bomb | bomb & }; bomb; sleep 5'], timeoutSec: 4 }).catch(() => undefined);
    // The bomb really hit the wall: pids.events counts forks refused by pids.max; where the
    // kernel counts RLIMIT_NPROC per user namespace the bomb's uid stops 64 processes short
    // of it (the reserve that leaves envd's root room), and its refused forks are the
    // EAGAINs bash reports (read through envd as root: the reserve is what lets it answer).
    const events = readFileSync(`/sys/fs/cgroup/pids/${t.cgroupParent}/${bombed}/pids.events`, 'utf8');
    const refusedByPidsMax = Number(/max (\d+)/.exec(events)?.[1]) > 0;
    const eagain = await t.client
      .exec({ capsuleId: bombed, cmd: '/bin/grep', args: ['-c', 'Resource temporarily unavailable', '/tmp/bomb.err'], user: 'root', timeoutSec: 10 })
      .then((r) => Number(text(r.stdout).trim()) > 0)
      .catch(() => false);
    assert.ok(refusedByPidsMax || eagain, `no limit was hit: ${events}`);
    // The host and the other capsules are unaffected.
    assert.ok((await t.client.health({})).capsules >= 3);
    const other = await t.client.exec({ capsuleId: b, cmd: 'echo', args: ['fine'] });
    assert.equal(text(other.stdout), 'fine\n');
    await t.client.destroy({ capsuleId: bombed });
  });

  test('a memory bomb is OOM-killed inside the capsule only', async () => {
    const oomKills = async () => {
      const r = await t.client.exec({ capsuleId: b, cmd: '/bin/sh', args: ['-c', 'grep -h oom_kill /sys/fs/cgroup/memory/memory.oom_control /sys/fs/cgroup/memory.events 2>/dev/null | grep -v disable'] });
      return Number(/oom_kill (\d+)/.exec(text(r.stdout))?.[1] ?? NaN);
    };
    const before = await oomKills();
    const r = await t.client.exec({ capsuleId: b, cmd: 'python3', args: ['-c', 'x = bytearray(1024*1024*1024); print(len(x))'], timeoutSec: 30 });
    // Killed by SIGKILL: envd reports -1 for a signal death (envd protocol).
    assert.equal(r.exitCode, -1, `exit ${r.exitCode}: ${text(r.stderr)}`);
    assert.equal(text(r.stdout), '');
    assert.equal(await oomKills(), before + 1);
    const after = await t.client.exec({ capsuleId: b, cmd: 'echo', args: ['alive'] });
    assert.equal(text(after.stdout), 'alive\n');
    assert.ok((await t.client.health({})).capsules >= 2);
  });

  test('filling the disk gives ENOSPC inside, and the capsule keeps working', async () => {
    const r = await t.client.exec({ capsuleId: a, cmd: '/bin/sh', args: ['-c', 'dd if=/dev/zero of=/home/wrenn-user/fill bs=1M count=4000 2>&1; echo rc=$?'], timeoutSec: 120 });
    assert.match(text(r.stdout), /No space left on device/);
    const rm = await t.client.exec({ capsuleId: a, cmd: '/bin/sh', args: ['-c', 'rm /home/wrenn-user/fill && echo ok > /home/wrenn-user/after && cat /home/wrenn-user/after'] });
    assert.equal(text(rm.stdout), 'ok\n');
  });

  test('mounting and loading kernel modules are refused even for root inside', async () => {
    const r = await t.client.exec({ capsuleId: a, cmd: '/bin/sh', args: ['-c', 'mount -t tmpfs x /mnt; echo mount=$?; python3 -c "import ctypes; l=ctypes.CDLL(None); print(\'init_module\', l.syscall(175, 0, 0, 0))"'], user: 'root' });
    const out = text(r.stdout) + text(r.stderr);
    assert.match(out, /mount=[1-9]/);
    assert.match(out, /init_module -1/);
  });

  test('host processes are invisible', async () => {
    const r = await t.client.exec({ capsuleId: a, cmd: '/bin/sh', args: ['-c', 'ls /proc | grep -E "^[0-9]+$" | wc -l'] });
    assert.ok(Number(text(r.stdout).trim()) < 30, `capsule sees ${text(r.stdout).trim()} processes`);
    const own = await t.client.exec({ capsuleId: a, cmd: 'cat', args: ['/proc/1/cmdline'] });
    assert.match(text(own.stdout), /tini/);
  });
});

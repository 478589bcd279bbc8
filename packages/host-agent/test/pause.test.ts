/**
 * Pause and resume of real capsules through the agent's RPC API: a memory pause keeps
 * processes, their memory, open files, TCP connections, PTY sessions and tags; a
 * filesystem pause keeps the disk and the address; requests during a pause get
 * capsule_busy; pause/resume cycles leak nothing.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Code } from '@connectrpc/connect';
import { CapsuleStatus, PauseKind } from '@wrenn/proto/hostagent';
import { hostResources, newCapsuleId, rpcError, sharedTemplates, startTestAgent, text, type TestAgent } from './agent-harness.js';
import { COUNTER_PY, ECHO_SERVER_PY, readLine, waitForLine } from './pause-fixtures.js';

const ECHO_PORT = 7071;

describe('memory pause and resume', () => {
  let t: TestAgent;
  let id: string;
  let address: string;

  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
    assert.ok(t.agent.manager.pauser?.support.memory, 'CRIU must work on this host (scripts/install-criu.sh)');
    id = newCapsuleId('cl-p');
    const created = await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256, envs: { CAPSULE_ENV: 'kept' } });
    address = created.capsule!.address;
  });

  after(async () => {
    await t?.close();
  });

  test('a process holding a counter in memory and a file open continues from the same value', async () => {
    const bg = await t.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    await waitForLine(t, id, '/tmp/counter.log', 5);
    const paused = await t.client.pause({ capsuleId: id });
    assert.equal(paused.capsule?.status, CapsuleStatus.PAUSED);
    assert.equal(paused.capsule?.pauseKind, PauseKind.MEMORY);
    assert.equal(paused.capsule?.address, address);
    // Mounts and network go right after the reply, before anything else may touch the capsule.
    await t.agent.manager.pauser!.releasedFor(id);
    assert.deepEqual(await hostResources(t), { mounts: [], loops: [], links: [], runcState: [], cgroups: [] }, 'nothing held while paused');
    // No TCP connection, nothing bound to the capsule's address: dumped without a network
    // lock, and the restore need not wait for the network either.
    assert.equal((await t.agent.manager.pauser!.snapshots.readMetadata(id))?.socketsNeedNetwork, false);
    await new Promise((r) => setTimeout(r, 300));
    const resumed = await t.client.resume({ capsuleId: id });
    assert.equal(resumed.capsule?.status, CapsuleStatus.RUNNING);
    assert.equal(resumed.capsule?.address, address);
    const values = await waitForLine(t, id, '/tmp/counter.log', 0, 10);
    // One process, never restarted: 1, 2, 3, ... without a gap or a reset across the pause.
    assert.deepEqual(values, values.map((_, i) => i + 1));
    const r = await t.client.exec({ capsuleId: id, cmd: 'sh', args: ['-c', `readlink /proc/${bg.pid}/fd/3; tr '\\0' '\\n' < /proc/${bg.pid}/environ | grep CAPSULE_ENV`] });
    assert.equal(text(r.stdout), '/tmp/counter.log\nCAPSULE_ENV=kept\n', text(r.stderr));
    const procs = await t.client.listProcesses({ capsuleId: id });
    assert.ok(procs.processes.some((p) => p.tag === 'counter' && p.pid === bg.pid), 'background process keeps its pid and tag');
  });

  test('a TCP connection from the host to a server in the capsule survives pause and resume', async () => {
    await t.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', ECHO_SERVER_PY, String(ECHO_PORT)], tag: 'echo' });
    let socket: Socket | undefined;
    for (let i = 0; i < 100 && !socket; i++) {
      socket = await new Promise<Socket | undefined>((resolve) => {
        const s = connect(ECHO_PORT, address, () => resolve(s));
        s.once('error', () => resolve(undefined));
      });
      if (!socket) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(socket, 'echo server reachable');
    try {
      socket.write('one\n');
      assert.equal(await readLine(socket), '1 one');
      await t.client.pause({ capsuleId: id });
      // The connection needs the network locked during the dump and plumbed before CRIU
      // re-opens it: recorded with the image.
      assert.equal((await t.agent.manager.pauser!.snapshots.readMetadata(id))?.socketsNeedNetwork, undefined);
      await t.client.resume({ capsuleId: id });
      socket.write('two\n');
      // The server's per-connection count (memory) and the connection itself survived.
      assert.equal(await readLine(socket), '2 two');
    } finally {
      socket.destroy();
    }
  });

  test('a PTY session survives: re-attached by tag, its shell state is intact', async () => {
    const abort = new AbortController();
    const events = t.client.ptyAttach({ capsuleId: id, cmd: '/bin/bash', args: ['--norc', '-i'], cols: 80, rows: 24 }, { signal: abort.signal });
    const iter = events[Symbol.asyncIterator]();
    const first = await iter.next();
    const tag = (first.value!.event.value as { tag: string }).tag;
    await t.client.ptySendInput({ capsuleId: id, tag, data: Buffer.from('SECRET=$((6*7)); echo set-$SECRET\n') });
    let out = '';
    while (!out.includes('set-42')) {
      const n = await iter.next();
      if (n.done) break;
      if (n.value.event.case === 'output') out += text(n.value.event.value);
    }
    // The attached stream ends at the pause (agent→envd connections are closed); drain it.
    const drained = (async () => {
      try {
        for (;;) if ((await iter.next()).done) break;
      } catch {
        // cut by the pause
      }
    })();
    await t.client.pause({ capsuleId: id });
    await drained;
    abort.abort();
    await t.client.resume({ capsuleId: id });
    const again = new AbortController();
    const re = t.client.ptyAttach({ capsuleId: id, tag }, { signal: again.signal })[Symbol.asyncIterator]();
    await t.client.ptySendInput({ capsuleId: id, tag, data: Buffer.from('echo again-$SECRET\n') });
    let out2 = '';
    while (!out2.includes('again-42')) {
      const n = await re.next();
      if (n.done) break;
      if (n.value.event.case === 'output') out2 += text(n.value.event.value);
    }
    assert.match(out2, /again-42/);
    await t.client.ptyKill({ capsuleId: id, tag });
    again.abort();
  });

  test('requests while the capsule is pausing get capsule_busy; a second Pause waits and returns it paused', async () => {
    const pausing = t.client.pause({ capsuleId: id });
    let seen = false;
    for (let i = 0; i < 400 && !seen; i++) {
      seen = (await t.client.get({ capsuleId: id })).capsule?.status === CapsuleStatus.PAUSING;
      if (!seen) await new Promise((r) => setTimeout(r, 2));
    }
    assert.ok(seen, 'status pausing observed');
    const err = await rpcError(t.client.exec({ capsuleId: id, cmd: 'true' }));
    assert.equal(err.code, Code.FailedPrecondition);
    assert.match(err.rawMessage, /pausing/);
    const second = await t.client.pause({ capsuleId: id });
    assert.equal(second.capsule?.status, CapsuleStatus.PAUSED);
    assert.equal((await pausing).capsule?.status, CapsuleStatus.PAUSED);
    const whilePaused = await rpcError(t.client.exec({ capsuleId: id, cmd: 'true' }));
    assert.equal(whilePaused.code, Code.FailedPrecondition);
    await t.client.resume({ capsuleId: id });
    assert.equal((await t.client.exec({ capsuleId: id, cmd: 'true' })).exitCode, 0);
  });

  test('the snapshot is deleted once resumed; memory comes back as before', async () => {
    await t.agent.manager.pauser!.settled();
    assert.equal(existsSync(join(t.agent.manager.pauser!.snapshots.memoryDir(id))), false);
    const r = await t.client.exec({ capsuleId: id, cmd: 'python3', args: ['-c', 'print(open("/proc/self/status").read().count("VmRSS"))'] });
    assert.equal(text(r.stdout), '1\n');
  });
});

/** V8's collector, reachable without --expose-gc (the flag set at runtime, gc taken from a fresh context). */
const gc: () => void = (() => {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
})();

describe('pause/resume cycles', () => {
  let t: TestAgent;
  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
  });
  after(async () => {
    await t?.close();
  });

  test('20 pause/resume cycles leak no fds, timers, mounts, loop devices, veths or agent memory', async () => {
    const id = newCapsuleId('cl-c');
    await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t.client.startBackground({ capsuleId: id, cmd: 'python3', args: ['-c', COUNTER_PY], tag: 'counter' });
    const snapshot = async () => {
      await t.agent.manager.pauser!.settled();
      // The envd of a resumed capsule is protected in the background (a runc call with a deadline).
      await t.agent.manager.envdSupervisor?.settled();
      const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
      const held = await hostResources(t);
      // Loop device names vary with what other capsules on the host hold: count them.
      return { fds: readdirSync('/proc/self/fd').length, timers, ...held, loops: held.loops.length };
    };
    const heapAfterGc = () => {
      gc();
      gc();
      return process.memoryUsage().heapUsed;
    };
    const cycle = async () => {
      await t.client.pause({ capsuleId: id });
      await t.client.resume({ capsuleId: id });
      assert.equal((await t.client.exec({ capsuleId: id, cmd: 'true' })).exitCode, 0);
    };
    for (let i = 0; i < 3; i++) await cycle();
    const baseline = await snapshot();
    const heapBefore = heapAfterGc();
    for (let i = 0; i < 17; i++) await cycle();
    const after = await snapshot();
    assert.deepEqual(after, baseline);
    // The agent's memory: what 17 cycles leave on its heap once garbage is collected (an
    // envd client, a sampler or a snapshot record kept per cycle would add up to more).
    const grownMb = (heapAfterGc() - heapBefore) / 1048576;
    assert.ok(grownMb < 4, `the agent's heap grew by ${grownMb.toFixed(1)} MB over 17 cycles`);
    const values = await waitForLine(t, id, '/tmp/counter.log', 0);
    assert.deepEqual(values, values.map((_, i) => i + 1), 'the counter ran through all 20 cycles without a reset');
    assert.deepEqual(readdirSync(t.agent.manager.pauser!.snapshots.root), [id], 'one snapshot dir, no stale images');
  });
});

describe('filesystem pause', () => {
  let t: TestAgent;
  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
  });
  after(async () => {
    await t?.close();
  });

  test('keeps the disk and the address, stops the processes, resumes with a cold start', async () => {
    const id = newCapsuleId('cl-f');
    const created = await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256, envs: { CAPSULE_ENV: 'kept' } });
    await t.client.exec({ capsuleId: id, cmd: 'sh', args: ['-c', 'echo on-disk > /home/wrenn-user/file'] });
    await t.client.startBackground({ capsuleId: id, cmd: 'sleep', args: ['1000'], tag: 'gone' });
    const paused = await t.client.pause({ capsuleId: id, kind: PauseKind.FILESYSTEM });
    assert.equal(paused.capsule?.pauseKind, PauseKind.FILESYSTEM);
    assert.equal(paused.capsule?.status, CapsuleStatus.PAUSED);
    // The rootfs is unmounted after the reply, before anything else may touch the capsule.
    await t.agent.manager.pauser!.releasedFor(id);
    assert.deepEqual((await hostResources(t)).mounts, [], 'rootfs unmounted while paused');
    const resumed = await t.client.resume({ capsuleId: id });
    assert.equal(resumed.capsule?.address, created.capsule?.address);
    const r = await t.client.exec({ capsuleId: id, cmd: 'sh', args: ['-c', 'cat /home/wrenn-user/file; echo $CAPSULE_ENV'] });
    assert.equal(text(r.stdout), 'on-disk\nkept\n');
    const procs = await t.client.listProcesses({ capsuleId: id });
    assert.equal(procs.processes.some((p) => p.tag === 'gone'), false);
    await t.client.destroy({ capsuleId: id });
  });

  test('destroying a paused capsule deletes its snapshot and its disk', async () => {
    const id = newCapsuleId('cl-d');
    await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 });
    await t.client.pause({ capsuleId: id });
    assert.ok(existsSync(t.agent.manager.pauser!.snapshots.dirOf(id)));
    await t.client.destroy({ capsuleId: id });
    assert.equal(existsSync(t.agent.manager.pauser!.snapshots.dirOf(id)), false);
    assert.equal(existsSync(t.agent.manager.store.dirOf(id)), false);
    assert.deepEqual(await hostResources(t), { mounts: [], loops: [], links: [], runcState: [], cgroups: [] });
  });
});

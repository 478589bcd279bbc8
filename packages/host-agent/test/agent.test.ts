/**
 * The host agent end to end through its RPC API, with real capsules (runc + overlay +
 * netns + envd): lifecycle, exec, files, processes, PTY, metrics, auth and bad input.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Code, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { HostAgentService, CapsuleStatus } from '@wrenn/proto/hostagent';
import { sharedTemplates, startTestAgent, hostResources, newCapsuleId, rpcError, text, type TestAgent } from './agent-harness.js';

describe('host agent: capsule lifecycle through the RPC API', () => {
  let t: TestAgent;
  let id: string;

  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
    id = newCapsuleId();
    const res = await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 512, envs: { GREETING: 'hello' }, metadata: { owner: 'test' } });
    assert.equal(res.capsule?.status, CapsuleStatus.RUNNING);
  });

  after(async () => {
    await t?.close();
  });

  test('Get and List show the running capsule with its resources and address', async () => {
    const got = await t.client.get({ capsuleId: id });
    assert.equal(got.capsule?.id, id);
    assert.equal(got.capsule?.memoryMb, 512);
    assert.match(got.capsule?.address ?? '', /^10\.\d+\.0\.\d+$/);
    assert.deepEqual(got.capsule?.metadata, { owner: 'test' });
    const list = await t.client.list({});
    assert.ok(list.capsules.some((c) => c.id === id));
  });

  test('Exec runs as the template default user with the capsule env vars', async () => {
    const r = await t.client.exec({ capsuleId: id, cmd: '/bin/bash', args: ['-lc', 'echo $GREETING; id -un; pwd'] });
    assert.equal(r.exitCode, 0, text(r.stderr));
    assert.deepEqual(text(r.stdout).trim().split('\n'), ['hello', 'wrenn-user', '/home/wrenn-user']);
  });

  test('Exec honours user, cwd, envs and stdin, and reports the exit code', async () => {
    const r = await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'cat; echo "$X $(id -u) $(pwd)"; exit 3'], envs: { X: 'y' }, cwd: '/tmp', user: 'root', stdin: Buffer.from('in:') });
    assert.equal(r.exitCode, 3);
    assert.equal(text(r.stdout), 'in:y 0 /tmp\n');
  });

  test('Exec past its timeout is killed and says so', async () => {
    const r = await t.client.exec({ capsuleId: id, cmd: 'sleep', args: ['30'], timeoutSec: 1 });
    assert.equal(r.timedOut, true);
    assert.ok(r.durationMs < 5000, `took ${r.durationMs} ms`);
  });

  test('sudo works for the default user without a password', async () => {
    const r = await t.client.exec({ capsuleId: id, cmd: 'sudo', args: ['-n', 'id', '-u'] });
    assert.equal(r.exitCode, 0, text(r.stderr));
    assert.equal(text(r.stdout).trim(), '0');
  });

  test('ExecStream streams output and the exit code', async () => {
    const seen: string[] = [];
    let exit: number | undefined;
    for await (const ev of t.client.execStream({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'echo one; echo two >&2; exit 4'] })) {
      if (ev.event.case === 'stdout') seen.push(`out:${text(ev.event.value)}`);
      if (ev.event.case === 'stderr') seen.push(`err:${text(ev.event.value)}`);
      if (ev.event.case === 'exitCode') exit = ev.event.value;
    }
    assert.equal(exit, 4);
    assert.ok(seen.includes('out:one\n') && seen.includes('err:two\n'), seen.join('|'));
  });

  test('WriteFile and ReadFile stream a 20 MB file both ways intact', async () => {
    const data = randomBytes(20 * 1024 * 1024);
    async function* upload() {
      yield { part: { case: 'header' as const, value: { capsuleId: id, path: '/home/wrenn-user/big.bin' } } };
      for (let i = 0; i < data.length; i += 256 * 1024) yield { part: { case: 'chunk' as const, value: data.subarray(i, i + 256 * 1024) } };
    }
    const w = await t.client.writeFile(upload());
    assert.equal(Number(w.size), data.length);
    const h = createHash('sha256');
    let n = 0;
    for await (const c of t.client.readFile({ capsuleId: id, path: '/home/wrenn-user/big.bin' })) {
      h.update(c.chunk);
      n += c.chunk.length;
    }
    assert.equal(n, data.length);
    assert.equal(h.digest('hex'), createHash('sha256').update(data).digest('hex'));
    const owner = await t.client.exec({ capsuleId: id, cmd: 'stat', args: ['-c', '%U', '/home/wrenn-user/big.bin'] });
    assert.equal(text(owner.stdout).trim(), 'wrenn-user');
  });

  test('MakeDir, ListDir and RemovePath', async () => {
    await t.client.makeDir({ capsuleId: id, path: '/home/wrenn-user/d1/d2' });
    const list = await t.client.listDir({ capsuleId: id, path: '/home/wrenn-user/d1', depth: 2 });
    assert.deepEqual(list.entries.map((e) => `${e.type}:${e.name}`), ['dir:d2']);
    await t.client.removePath({ capsuleId: id, path: '/home/wrenn-user/d1' });
    const err = await rpcError(t.client.listDir({ capsuleId: id, path: '/home/wrenn-user/d1' }));
    assert.equal(err.code, Code.NotFound);
  });

  test('ReadFile of a missing file is NotFound naming the path', async () => {
    const err = await rpcError((async () => {
      for await (const _ of t.client.readFile({ capsuleId: id, path: '/nope.txt' })) void _;
    })());
    assert.equal(err.code, Code.NotFound);
    assert.match(err.rawMessage, /nope\.txt/);
  });

  test('background processes: start with a tag, list, connect to output, kill by tag', async () => {
    const started = await t.client.startBackground({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'i=0; while true; do echo tick$i; i=$((i+1)); sleep 0.2; done'], tag: 'ticker' });
    assert.equal(started.tag, 'ticker');
    assert.ok(started.pid > 0);
    const list = await t.client.listProcesses({ capsuleId: id });
    assert.ok(list.processes.some((p) => p.tag === 'ticker' && p.pid === started.pid));
    // Connect late: ~5 ticks were printed while nobody listened; envd kept them.
    await new Promise((r) => setTimeout(r, 1000));
    let out = '';
    const abort = new AbortController();
    const reading = (async () => {
      try {
        for await (const ev of t.client.connectProcess({ capsuleId: id, process: { selector: { case: 'tag', value: 'ticker' } } }, { signal: abort.signal })) {
          if (ev.event.case === 'stdout') out += text(ev.event.value);
          if (out.includes('tick6')) abort.abort();
        }
      } catch {
        // aborted on purpose
      }
    })();
    await reading;
    // The only output that can be missed is what was already on the wire to StartBackground's
    // own (immediately closed) stream; everything after it was buffered for us.
    const first = Number(/tick(\d+)/.exec(out)?.[1]);
    assert.ok(first <= 1, `late connect started at tick${first}: ${JSON.stringify(out)}`);
    assert.match(out, /tick2\ntick3\ntick4\n/);
    await t.client.killProcess({ capsuleId: id, process: { selector: { case: 'tag', value: 'ticker' } }, signal: 'SIGKILL' });
    // The kill is sent; the exit is reaped asynchronously, so poll the list briefly.
    const deadline = Date.now() + 5000;
    let listed = true;
    while (listed && Date.now() < deadline) {
      listed = (await t.client.listProcesses({ capsuleId: id })).processes.some((p) => p.tag === 'ticker');
      if (listed) await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal(listed, false, 'killed process still listed after 5 s');
  });

  test('PTY: attach, type, resize, kill', async () => {
    const abort = new AbortController();
    let tag = '';
    let output = '';
    let exit: number | undefined;
    const events = t.client.ptyAttach({ capsuleId: id, cmd: '/bin/bash', args: ['--norc', '-i'], cols: 80, rows: 24 }, { signal: abort.signal });
    const iter = events[Symbol.asyncIterator]();
    const first = await iter.next();
    assert.equal(first.value?.event.case, 'started');
    tag = (first.value!.event.value as { tag: string }).tag;
    const waitFor = async (needle: string) => {
      while (!output.includes(needle)) {
        const n = await iter.next();
        if (n.done) break;
        if (n.value.event.case === 'output') output += text(n.value.event.value);
        if (n.value.event.case === 'exitCode') {
          exit = n.value.event.value;
          break;
        }
      }
    };
    await t.client.ptySendInput({ capsuleId: id, tag, data: Buffer.from('echo pty-$((6*7))\n') });
    await waitFor('pty-42');
    await t.client.ptyResize({ capsuleId: id, tag, cols: 123, rows: 45 });
    await t.client.ptySendInput({ capsuleId: id, tag, data: Buffer.from('stty size\n') });
    await waitFor('45 123');
    await t.client.ptyKill({ capsuleId: id, tag });
    await waitFor('\u0000never');
    assert.notEqual(exit, undefined, 'PTY exit reported');
    abort.abort();
  });

  test('GetMetrics returns per-second samples of the capsule', async () => {
    await new Promise((r) => setTimeout(r, 2500));
    const m = await t.client.getMetrics({ capsuleId: id, range: '5m' });
    assert.ok(m.points.length >= 2, `points: ${m.points.length}`);
    const last = m.points[m.points.length - 1]!;
    assert.ok(last.memUsedBytes > 0n);
    assert.equal(last.memTotalBytes, 512n * 1024n * 1024n);
    assert.ok(last.diskTotalBytes > 0n);
  });

  test('Ping answers healthy', async () => {
    assert.equal((await t.client.ping({ capsuleId: id })).healthy, true);
  });

  test('Destroy releases every host resource of the capsule', async () => {
    await t.client.destroy({ capsuleId: id });
    const err = await rpcError(t.client.get({ capsuleId: id }));
    assert.equal(err.code, Code.NotFound);
    const res = await hostResources(t);
    assert.deepEqual(res, { mounts: [], loops: [], links: [], runcState: [], cgroups: [] });
  });
});

describe('host agent: bad input and auth', () => {
  let t: TestAgent;
  before(async () => {
    await sharedTemplates();
    t = await startTestAgent();
  });
  after(async () => {
    await t?.close();
  });

  test('a call without the host token is refused', async () => {
    const anon = createClient(HostAgentService, createConnectTransport({ baseUrl: `http://127.0.0.1:${t.agent.port}`, httpVersion: '2' }));
    const err = await rpcError(anon.list({}));
    assert.equal(err.code, Code.Unauthenticated);
  });

  test('unknown template → NotFound, and nothing is left behind', async () => {
    const err = await rpcError(t.client.create({ capsuleId: newCapsuleId(), template: 'no-such-template', vcpus: 1, memoryMb: 256 }));
    assert.equal(err.code, Code.NotFound);
    assert.match(err.rawMessage, /no-such-template/);
    assert.deepEqual(await hostResources(t), { mounts: [], loops: [], links: [], runcState: [], cgroups: [] });
  });

  test('memory above the host → ResourceExhausted with the reason', async () => {
    const err = await rpcError(t.client.create({ capsuleId: newCapsuleId(), template: 'minimal', vcpus: 1, memoryMb: 10_000_000 }));
    assert.equal(err.code, Code.ResourceExhausted);
    assert.match(err.rawMessage, /memory/);
  });

  test('invalid sizes and ids → InvalidArgument', async () => {
    assert.equal((await rpcError(t.client.create({ capsuleId: 'bad id!', template: 'minimal' }))).code, Code.InvalidArgument);
    assert.equal((await rpcError(t.client.create({ capsuleId: newCapsuleId(), template: 'minimal', memoryMb: 10 }))).code, Code.InvalidArgument);
    assert.equal((await rpcError(t.client.create({ capsuleId: newCapsuleId(), template: 'minimal', vcpus: -1 }))).code, Code.InvalidArgument);
  });

  test('operations on an unknown capsule → NotFound', async () => {
    assert.equal((await rpcError(t.client.exec({ capsuleId: 'cl-nope', cmd: 'true' }))).code, Code.NotFound);
    assert.equal((await rpcError(t.client.destroy({ capsuleId: 'cl-nope' }))).code, Code.NotFound);
  });

  test('a capsule with a lifetime is destroyed when it ends', async () => {
    const id = newCapsuleId();
    await t.client.create({ capsuleId: id, template: 'busybox', vcpus: 1, memoryMb: 128, lifetimeSec: 1 });
    const deadline = Date.now() + 10_000;
    while (Date.now() < deadline) {
      const gone = await t.client.get({ capsuleId: id }).then(() => false, () => true);
      if (gone) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal((await rpcError(t.client.get({ capsuleId: id }))).code, Code.NotFound);
  });

  test('envd runs on a busybox-only template', async () => {
    const id = newCapsuleId();
    await t.client.create({ capsuleId: id, template: 'busybox', vcpus: 1, memoryMb: 128 });
    const r = await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'echo busy; ls /lib 2>&1 | head -1'] });
    assert.equal(text(r.stdout).split('\n')[0], 'busy');
    await t.client.destroy({ capsuleId: id });
  });
});

describe('host agent: warm pool', () => {
  let t: TestAgent;
  const waitWarm = async (n: number) => {
    const deadline = Date.now() + 30_000;
    while (t.agent.manager.warmCapsules().length < n) {
      if (Date.now() > deadline) assert.fail(`warm pool did not reach ${n}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  before(async () => {
    await sharedTemplates();
    t = await startTestAgent({ env: { WRENN_WARM_POOL: 'busybox=1' } });
  });
  after(async () => {
    await t?.close();
  });

  test('warm capsules are not listed as the team\'s capsules', async () => {
    await waitWarm(1);
    assert.equal((await t.client.list({})).capsules.length, 0);
  });

  test('Create claims a warm capsule and personalises it (id, envs, memory limit)', async () => {
    await waitWarm(1);
    const id = newCapsuleId();
    const res = await t.client.create({ capsuleId: id, template: 'busybox', vcpus: 1, memoryMb: 256, envs: { WARM: 'yes' }, egress: true });
    assert.equal(res.capsule?.fromWarmPool, true);
    const r = await t.client.exec({ capsuleId: id, cmd: '/bin/sh', args: ['-c', 'echo $WARM; cat /run/wrenn/.WRENN_CAPSULE_ID; echo; cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max'] });
    const [warm, capsuleId, limit] = text(r.stdout).trim().split('\n');
    assert.equal(warm, 'yes');
    assert.equal(capsuleId, id);
    assert.equal(Number(limit), 256 * 1024 * 1024);
    await waitWarm(1);
    await t.client.destroy({ capsuleId: id });
  });

  test('a request that does not fit the pool (other template) starts cold', async () => {
    await waitWarm(1);
    const id = newCapsuleId();
    const res = await t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256, egress: true });
    assert.equal(res.capsule?.fromWarmPool, false);
    await t.client.destroy({ capsuleId: id });
  });
});

describe('host agent: a Create that fails half-way', () => {
  let t: TestAgent;
  before(async () => {
    await sharedTemplates();
    // envd (node) cannot boot within 1 ms, so Create fails after the disk, the container and
    // the network were made: the undo path is what is under test.
    t = await startTestAgent({ env: { WRENN_ENVD_START_TIMEOUT_MS: '1' } });
  });
  after(async () => {
    await t?.close();
  });

  test('fails with a clear error and leaves no mount, loop device, veth, runc state, cgroup or record', async () => {
    const id = newCapsuleId();
    const err = await rpcError(t.client.create({ capsuleId: id, template: 'minimal', vcpus: 1, memoryMb: 256 }));
    assert.equal(err.code, Code.DeadlineExceeded);
    assert.match(err.rawMessage, /envd did not become healthy/);
    assert.deepEqual(await hostResources(t), { mounts: [], loops: [], links: [], runcState: [], cgroups: [] });
    assert.equal((await t.client.list({})).capsules.length, 0);
    const { readdirSync } = await import('node:fs');
    assert.deepEqual(readdirSync(`${t.dataDir}/capsules`), []);
  });
});

/**
 * The SDK against a real control plane with a real host agent and real capsules: every
 * call goes through HTTP/WebSocket exactly as a user's program would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from '@wrenn/control-plane/testing';
import { Wrenn, WrennApiError, isWrennApiError, type PtyEnd } from '../src/index.js';

let t: TestControlPlane;
let team: SeededTeam;
let wrenn: Wrenn;
let capsuleId: string;

async function collect(stream: ReadableStream<Uint8Array>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of Readable.fromWeb(stream as import('node:stream/web').ReadableStream<Uint8Array>)) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

/** The WrennApiError a call fails with; fails the test if the call succeeds. */
async function apiError(p: Promise<unknown>): Promise<WrennApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof WrennApiError, `expected a WrennApiError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the call to fail, but it succeeded');
}

/** Waits until `predicate` holds for the accumulated text, or fails with what arrived. */
async function until(read: () => string, predicate: (s: string) => boolean, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate(read())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; got: ${JSON.stringify(read().slice(-500))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  t = await startControlPlane({ withAgent: true });
  team = await seedTeam(t.cp);
  wrenn = new Wrenn({ baseUrl: t.url, apiKey: team.apiKey });
  const c = await wrenn.capsules.create({ template: 'minimal', memoryMb: 256 });
  capsuleId = c.id;
});

after(async () => {
  if (capsuleId) await wrenn.capsules.destroy(capsuleId).catch((err) => console.error(`capsule ${capsuleId} not destroyed:`, err));
  await t?.close();
});

describe('capsules', () => {
  test('create returns a running capsule in camelCase, and get/list find it', async () => {
    const got = await wrenn.capsules.get(capsuleId);
    assert.equal(got.status, 'running');
    assert.equal(got.template, 'minimal');
    assert.equal(got.memoryMb, 256);
    assert.match(got.createdAt, /Z$|[+-]\d\d:\d\d$/);
    const list = await wrenn.capsules.list();
    assert.ok(list.some((c) => c.id === capsuleId));
  });

  test('exec returns stdout, stderr and a non-zero exit code as a result', async () => {
    const r = await wrenn.capsules.exec(capsuleId, { cmd: '/bin/sh', args: ['-c', 'echo out; echo err >&2; exit 3'] });
    assert.equal(r.stdout, 'out\n');
    assert.equal(r.stderr, 'err\n');
    assert.equal(r.exitCode, 3);
    assert.equal(r.timedOut, false);
  });

  test('exec returns binary output byte for byte', async () => {
    const r = await wrenn.capsules.exec(capsuleId, { cmd: '/bin/sh', args: ['-c', "printf '\\377\\000\\001'"] });
    assert.deepEqual([...r.stdoutBytes], [0xff, 0x00, 0x01]);
  });

  test('destroy stops the capsule; get then shows it stopped', async () => {
    const c = await wrenn.capsules.create({ memoryMb: 256 });
    await wrenn.capsules.destroy(c.id);
    assert.equal((await wrenn.capsules.get(c.id)).status, 'stopped');
  });
});

describe('errors', () => {
  test('an unknown capsule is a WrennApiError with status 404, its code and the request id', async () => {
    const err = await apiError(wrenn.capsules.get('cl-doesnotexist'));
    assert.equal(err.status, 404);
    assert.equal(err.code, 'not_found');
    assert.equal(err.reason, 'capsule_not_found');
    assert.ok(isWrennApiError(err, 'capsule_not_found') && isWrennApiError(err, 'not_found'));
    assert.match(err.message, /cl-doesnotexist/);
    assert.ok(err.requestId, 'the request id is kept for bug reports');
  });

  test('a bad API key is 401 unauthenticated', async () => {
    const bad = new Wrenn({ baseUrl: t.url, apiKey: `wrn_${'0'.repeat(32)}` });
    const err = await apiError(bad.capsules.list());
    assert.equal(err.status, 401);
    assert.equal(err.code, 'unauthorized');
    assert.equal(err.reason, 'unauthenticated');
  });

  test('an invalid request body is 400 invalid_argument', async () => {
    const err = await apiError(wrenn.capsules.create({ memoryMb: 1 }));
    assert.equal(err.status, 400);
    assert.equal(err.code, 'invalid_request');
    assert.equal(err.reason, 'invalid_argument');
  });

  test('a server that is not there is status 0, code unavailable', async () => {
    const nowhere = new Wrenn({ baseUrl: 'http://127.0.0.1:1', apiKey: team.apiKey });
    const err = await apiError(nowhere.capsules.list());
    assert.equal(err.status, 0);
    assert.equal(err.code, 'unavailable');
    assert.equal(err.reason, 'unavailable');
  });

  test('timeoutMs gives up on a slow call with a TimeoutError', async () => {
    await assert.rejects(wrenn.capsules.exec(capsuleId, { cmd: 'sleep', args: ['5'] }, { timeoutMs: 200 }), { name: 'TimeoutError' });
  });

  test('an aborted signal cancels the call with the abort reason', async () => {
    const abort = new AbortController();
    const call = wrenn.capsules.exec(capsuleId, { cmd: 'sleep', args: ['5'] }, { signal: abort.signal });
    setTimeout(() => abort.abort(new Error('user gave up')), 100);
    await assert.rejects(call, /user gave up/);
  });
});

describe('files', () => {
  test('bytes written are read back identical (multipart write, read)', async () => {
    const data = randomBytes(64 * 1024);
    await wrenn.files.write(capsuleId, '/tmp/sdk/small.bin', data);
    assert.deepEqual(Buffer.from(await wrenn.files.read(capsuleId, '/tmp/sdk/small.bin')), data);
    assert.equal(await wrenn.files.readText(capsuleId, '/tmp/sdk/small.bin').then((s) => s.length > 0), true);
  });

  test('a stream written is read back identical as a stream, with progress counts', async () => {
    const data = randomBytes(20 * 1024 * 1024 + 123);
    let sent = 0;
    let received = 0;
    await wrenn.files.write(capsuleId, '/tmp/sdk/big.bin', Readable.from([data.subarray(0, 7_000_000), data.subarray(7_000_000)]), { onProgress: (n) => (sent = n) });
    assert.equal(sent, data.length);
    const { stream } = await wrenn.files.readStream(capsuleId, '/tmp/sdk/big.bin', { onProgress: (n) => (received = n) });
    const back = await collect(stream);
    assert.equal(back.length, data.length);
    assert.ok(back.equals(data), 'content differs');
    assert.equal(received, data.length);
  });

  test('list, mkdir and remove', async () => {
    const dir = await wrenn.files.mkdir(capsuleId, '/tmp/sdk/dir');
    assert.equal(dir.path, '/tmp/sdk/dir');
    await wrenn.files.write(capsuleId, '/tmp/sdk/dir/a.txt', 'hello');
    const entries = await wrenn.files.list(capsuleId, '/tmp/sdk/dir');
    assert.deepEqual(
      entries.map((e) => [e.name, e.size]),
      [['a.txt', 5]],
    );
    await wrenn.files.remove(capsuleId, '/tmp/sdk/dir');
    const err = await apiError(wrenn.files.list(capsuleId, '/tmp/sdk/dir'));
    assert.equal(err.status, 404);
  });

  test('mkdir on an existing path is 409 conflict', async () => {
    await wrenn.files.mkdir(capsuleId, '/tmp/sdk/twice');
    const err = await apiError(wrenn.files.mkdir(capsuleId, '/tmp/sdk/twice'));
    assert.equal(err.status, 409);
  });

  test('a streamed write to an unknown capsule fails with its 404, not as a connection error', async () => {
    const err = await apiError(wrenn.files.write('cl-doesnotexist', '/tmp/x.bin', Readable.from([randomBytes(16 * 1024 * 1024)])));
    assert.equal(err.status, 404);
    assert.equal(err.reason, 'capsule_not_found');
  });

  test('reading a missing file is a 404 naming the path', async () => {
    const err = await apiError(wrenn.files.read(capsuleId, '/tmp/sdk/nope.txt'));
    assert.equal(err.status, 404);
    assert.match(err.message, /nope\.txt/);
  });
});

describe('processes and streams', () => {
  test('a background process is listed by tag and killed by tag', async () => {
    const started = await wrenn.processes.start(capsuleId, { cmd: 'sleep', args: ['300'], tag: 'sdk-sleeper' });
    assert.equal(started.tag, 'sdk-sleeper');
    assert.ok(started.pid > 0);
    assert.ok((await wrenn.processes.list(capsuleId)).some((p) => p.tag === 'sdk-sleeper' && p.pid === started.pid));
    await wrenn.processes.kill(capsuleId, 'sdk-sleeper', { killSignal: 'SIGKILL' });
    const deadline = Date.now() + 10_000;
    while ((await wrenn.processes.list(capsuleId)).some((p) => p.tag === 'sdk-sleeper')) {
      assert.ok(Date.now() < deadline, 'the killed process is still listed');
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  test('execStream delivers stdout and stderr as produced, then the exit code', async () => {
    let out = '';
    let err = '';
    const s = await wrenn.execStream(capsuleId, {
      cmd: '/bin/sh',
      args: ['-c', 'echo one; echo two >&2; exit 7'],
      onStdout: (d) => (out += Buffer.from(d).toString()),
      onStderr: (d) => (err += Buffer.from(d).toString()),
    });
    assert.ok(s.pid > 0);
    const end = await s.wait();
    assert.equal(end.exitCode, 7);
    assert.equal(out, 'one\n');
    assert.equal(err, 'two\n');
  });

  test('execStream on an unknown capsule rejects with the 404 code', async () => {
    const err = await apiError(wrenn.execStream('cl-doesnotexist', { cmd: 'true' }));
    assert.equal(err.reason, 'capsule_not_found');
    assert.equal(err.code, 'not_found');
    assert.equal(err.status, 404);
  });
});

describe('pty', () => {
  test('a terminal echoes typed input, resizes, and reports the exit code', async () => {
    let screen = '';
    const term = await wrenn.pty(capsuleId, { cmd: '/bin/bash', cols: 80, rows: 24, onOutput: (d) => (screen += Buffer.from(d).toString()) });
    assert.ok(term.tag, 'the session has a tag to reconnect with');
    assert.ok(term.pid > 0);
    term.write('echo hello-$((6*7))\n');
    await until(() => screen, (s) => s.includes('hello-42'), 'the echo');
    term.resize(100, 40);
    term.write('stty size\n');
    await until(() => screen, (s) => s.includes('40 100'), 'the new size');
    term.write('exit 5\n');
    const end: PtyEnd = await term.wait();
    assert.deepEqual(end, { reason: 'exit', exitCode: 5 });
  });

  test('a detached session keeps running and reconnect by tag reattaches to it', async () => {
    let screen = '';
    const term = await wrenn.pty(capsuleId, { cmd: '/bin/bash', cols: 80, rows: 24, onOutput: (d) => (screen += Buffer.from(d).toString()) });
    term.write('export MARK=kept-$((1+1))\n');
    await until(() => screen, (s) => s.includes('kept-'), 'the first command');
    await term.close();
    assert.deepEqual(await term.wait(), { reason: 'detached', byClient: true });

    await term.reconnect();
    term.write('echo "$MARK"\n');
    await until(() => screen, (s) => s.includes('kept-2'), 'the variable set before detaching');
    term.kill();
    const end = await term.wait();
    assert.equal(end.reason, 'exit');
  });

  test('attaching to an unknown tag fails with a 404 WrennApiError naming the tag', async () => {
    const err = await apiError(wrenn.pty(capsuleId, { tag: 'no-such-terminal' }));
    assert.equal(err.code, 'not_found');
    assert.equal(err.reason, 'process_not_found');
    assert.equal(err.status, 404);
    assert.match(err.message, /no-such-terminal/);
  });
});

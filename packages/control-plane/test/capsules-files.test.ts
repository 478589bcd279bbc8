/**
 * The files API of a real capsule through a real control plane and host agent: multipart
 * and raw streamed uploads, streamed downloads (200 MB with bounded control-plane memory),
 * list, mkdir, remove, and their errors.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startControlPlane, seedTeam, type SeededTeam, type TestControlPlane } from './harness.js';

/** `size` bytes of a repeatable pattern, produced chunk by chunk (never held whole); `sha256` once consumed. */
function patternSource(size: number, chunk = 256 * 1024): { stream: Readable; sha256: () => string } {
  const hash = createHash('sha256');
  const block = Buffer.alloc(chunk);
  for (let i = 0; i < chunk; i++) block[i] = (i * 31 + 7) & 0xff;
  async function* gen() {
    for (let sent = 0; sent < size; sent += chunk) {
      const piece = Buffer.from(block.subarray(0, Math.min(chunk, size - sent)));
      piece[0] = (sent / chunk) & 0xff; // every chunk differs a little, so misordering shows
      hash.update(piece);
      yield piece;
    }
  }
  return { stream: Readable.from(gen(), { objectMode: false }), sha256: () => hash.digest('hex') };
}

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}

/**
 * POST through node:http with stream back-pressure on both sides (fetch's upload of a
 * ReadableStream buffers ahead, which would count against the memory being measured).
 */
function streamRequest(url: string, headers: Record<string, string>, body: Readable | string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: 'POST', headers }, resolve);
    req.on('error', reject);
    if (typeof body === 'string') req.end(body);
    else body.pipe(req);
  });
}

describe('capsule files API', () => {
  let t: TestControlPlane;
  let team: SeededTeam;
  let other: SeededTeam;
  let id: string;
  const base = () => `${t.url}/v1/capsules/${id}`;
  const headers = () => ({ 'x-api-key': team.apiKey });

  before(async () => {
    t = await startControlPlane({ withAgent: true });
    team = await seedTeam(t.cp);
    other = await seedTeam(t.cp);
    const r = await t.api('POST', '/v1/capsules', { auth: team.apiKey, body: { template: 'minimal' } });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    id = r.body.id;
  });

  after(async () => {
    if (id) await t?.api('DELETE', `/v1/capsules/${id}`, { auth: team.apiKey });
    await t?.close();
  });

  test('multipart write (path field, then file) creates the file; read returns the same bytes', async () => {
    const content = Buffer.from('hello from multipart\n\x00\xff binary too');
    const form = new FormData();
    form.append('path', '/tmp/multi/hello.bin');
    form.append('file', new Blob([content]), 'hello.bin');
    const w = await fetch(`${base()}/files/write`, { method: 'POST', headers: headers(), body: form });
    assert.equal(w.status, 204, await w.text());
    const r = await fetch(`${base()}/files/read`, { method: 'POST', headers: { ...headers(), 'content-type': 'application/json' }, body: JSON.stringify({ path: '/tmp/multi/hello.bin' }) });
    assert.equal(r.status, 200);
    assert.equal(r.headers.get('content-type'), 'application/octet-stream');
    assert.deepEqual(Buffer.from(await r.arrayBuffer()), content);
  });

  test('multipart write without a path, or without a file part, is a 400 saying what is missing', async () => {
    const noPath = new FormData();
    noPath.append('file', new Blob(['x']), 'x');
    const r1 = await fetch(`${base()}/files/write`, { method: 'POST', headers: headers(), body: noPath });
    assert.equal(r1.status, 400);
    assert.match(((await r1.json()) as any).error.message, /path/);
    const noFile = new FormData();
    noFile.append('path', '/tmp/x');
    const r2 = await fetch(`${base()}/files/write`, { method: 'POST', headers: headers(), body: noFile });
    assert.equal(r2.status, 400);
    assert.match(((await r2.json()) as any).error.message, /file/);
  });

  test('a 200 MB raw streamed write and streamed read round-trip intact with bounded control-plane memory', async (tc) => {
    const size = 200 * 1024 * 1024;
    // Live memory is what must stay bounded: collect garbage before each sample, so the
    // measure is what the streams hold, not how lazily V8 collects (the agent and this
    // client share the process and churn through 200 MB of short-lived buffers too).
    const gc = collectGarbage();
    gc();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      gc();
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 200);
    try {
      const up = patternSource(size);
      const w = await streamRequest(`${base()}/files/stream/write?path=${encodeURIComponent('/tmp/big.bin')}`, { ...headers(), 'content-type': 'application/octet-stream' }, up.stream);
      w.resume();
      assert.equal(w.statusCode, 204);
      const r = await streamRequest(`${base()}/files/stream/read`, { ...headers(), 'content-type': 'application/json' }, JSON.stringify({ path: '/tmp/big.bin' }));
      assert.equal(r.statusCode, 200);
      const down = createHash('sha256');
      let received = 0;
      for await (const chunk of r as AsyncIterable<Buffer>) {
        down.update(chunk);
        received += chunk.length;
      }
      assert.equal(received, size);
      assert.equal(down.digest('hex'), up.sha256());
    } finally {
      clearInterval(sampler);
    }
    // This process holds the control plane, the agent and the client: all of them streamed.
    const growthMb = (rssPeak - rssBefore) / 1048576;
    tc.diagnostic(`peak RSS growth ${growthMb.toFixed(0)} MB`);
    assert.ok(growthMb < 100, `RSS grew by ${growthMb.toFixed(0)} MB moving 200 MB`);
  });

  test("stream/write takes the contract's multipart body (path field, then file), streamed: 100 MB with bounded memory", async (tc) => {
    const size = 100 * 1024 * 1024;
    const boundary = `----wrenn${process.pid}`;
    const up = patternSource(size);
    async function* body() {
      yield Buffer.from(`--${boundary}\r\ncontent-disposition: form-data; name="path"\r\n\r\n/tmp/multi-big.bin\r\n--${boundary}\r\ncontent-disposition: form-data; name="file"; filename="big.bin"\r\ncontent-type: application/octet-stream\r\n\r\n`);
      yield* up.stream;
      yield Buffer.from(`\r\n--${boundary}--\r\n`);
    }
    const gc = collectGarbage();
    gc();
    const rssBefore = process.memoryUsage().rss;
    let rssPeak = rssBefore;
    const sampler = setInterval(() => {
      gc();
      rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
    }, 200);
    try {
      const w = await streamRequest(`${base()}/files/stream/write`, { ...headers(), 'content-type': `multipart/form-data; boundary=${boundary}` }, Readable.from(body(), { objectMode: false }));
      let text = '';
      for await (const c of w as AsyncIterable<Buffer>) text += c.toString();
      assert.equal(w.statusCode, 204, text);
    } finally {
      clearInterval(sampler);
    }
    const growthMb = (rssPeak - rssBefore) / 1048576;
    tc.diagnostic(`peak RSS growth ${growthMb.toFixed(0)} MB`);
    assert.ok(growthMb < 100, `RSS grew by ${growthMb.toFixed(0)} MB moving 100 MB`);
    const sum = await t.api('POST', `/v1/capsules/${id}/exec`, { auth: team.apiKey, body: { cmd: 'sha256sum', args: ['/tmp/multi-big.bin'] } });
    assert.equal(sum.body.stdout.split(' ')[0], up.sha256());
  });

  test('raw streamed write takes the path from the x-file-path header too, and any content type', async () => {
    const w = await fetch(`${base()}/files/stream/write`, {
      method: 'POST',
      headers: { ...headers(), 'x-file-path': encodeURIComponent('/tmp/héader.txt'), 'content-type': 'text/plain' },
      body: 'via header',
    });
    assert.equal(w.status, 204, await w.text());
    const r = await t.api('POST', `/v1/capsules/${id}/files/read`, { auth: team.apiKey, body: { path: '/tmp/héader.txt' } });
    assert.equal(r.body, 'via header');
  });

  test('raw streamed write without a path is a 400', async () => {
    const w = await fetch(`${base()}/files/stream/write`, { method: 'POST', headers: { ...headers(), 'content-type': 'application/octet-stream' }, body: 'x' });
    assert.equal(w.status, 400);
    assert.match(((await w.json()) as any).error.message, /path/);
  });

  test('an empty file reads back as an empty body', async () => {
    const w = await fetch(`${base()}/files/stream/write?path=/tmp/empty`, { method: 'POST', headers: { ...headers(), 'content-type': 'application/octet-stream' }, body: '' });
    assert.equal(w.status, 204);
    const r = await fetch(`${base()}/files/read`, { method: 'POST', headers: { ...headers(), 'content-type': 'application/json' }, body: JSON.stringify({ path: '/tmp/empty' }) });
    assert.equal(r.status, 200);
    assert.equal((await r.arrayBuffer()).byteLength, 0);
  });

  test('mkdir answers 200 {entry}, and 409 conflict on an existing path', async () => {
    const before = Math.floor(Date.now() / 1000) - 5;
    const r = await t.api('POST', `/v1/capsules/${id}/files/mkdir`, { auth: team.apiKey, body: { path: '/tmp/dir-a/b' } });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.entry.path, '/tmp/dir-a/b');
    assert.equal(r.body.entry.type, 'directory');
    assert.ok(Number.isInteger(r.body.entry.modified_at) && r.body.entry.modified_at >= before, JSON.stringify(r.body));
    assert.match(r.body.entry.permissions, /^drwx/);
    const again = await t.api('POST', `/v1/capsules/${id}/files/mkdir`, { auth: team.apiKey, body: { path: '/tmp/dir-a/b' } });
    assert.equal(again.status, 409);
    assert.equal(again.body.error.reason, 'conflict');
    assert.match(again.body.error.message, /\/tmp\/dir-a\/b/);
  });

  test('list returns entries with the contract fields (type, Unix-seconds modified_at, permissions, owner, group, symlink_target); depth goes deeper', async () => {
    await fetch(`${base()}/files/stream/write?path=/tmp/tree/sub/f.txt`, { method: 'POST', headers: { ...headers(), 'content-type': 'application/octet-stream' }, body: '12345' });
    const one = await t.api('POST', `/v1/capsules/${id}/files/list`, { auth: team.apiKey, body: { path: '/tmp/tree' } });
    assert.equal(one.status, 200);
    assert.deepEqual(
      one.body.entries.map((e: { path: string }) => e.path),
      ['/tmp/tree/sub'],
    );
    const two = await t.api('POST', `/v1/capsules/${id}/files/list`, { auth: team.apiKey, body: { path: '/tmp/tree', depth: 2 } });
    const file = two.body.entries.find((e: { path: string }) => e.path === '/tmp/tree/sub/f.txt');
    assert.ok(file, JSON.stringify(two.body));
    assert.deepEqual(Object.keys(file).sort(), ['group', 'mode', 'modified_at', 'name', 'owner', 'path', 'permissions', 'size', 'symlink_target', 'type']);
    assert.equal(file.name, 'f.txt');
    assert.equal(file.type, 'file');
    assert.equal(file.size, 5);
    assert.equal(file.symlink_target, null);
    assert.ok(Number.isInteger(file.modified_at) && Math.abs(file.modified_at - Date.now() / 1000) < 600, String(file.modified_at));
    assert.match(file.permissions, /^-rw/);
    assert.ok(file.owner && file.group, JSON.stringify(file));
    assert.equal(two.body.entries.find((e: { path: string }) => e.path === '/tmp/tree/sub').type, 'directory');
    await t.api('POST', `/v1/capsules/${id}/exec`, { auth: team.apiKey, body: { cmd: 'ln', args: ['-s', '/tmp/tree/sub/f.txt', '/tmp/tree/link'] } });
    const three = await t.api('POST', `/v1/capsules/${id}/files/list`, { auth: team.apiKey, body: { path: '/tmp/tree' } });
    const link = three.body.entries.find((e: { path: string }) => e.path === '/tmp/tree/link');
    assert.equal(link?.type, 'symlink', JSON.stringify(three.body));
    assert.equal(link.symlink_target, '/tmp/tree/sub/f.txt');
  });

  test('remove deletes a file (204); the path is then gone', async () => {
    await fetch(`${base()}/files/stream/write?path=/tmp/doomed`, { method: 'POST', headers: { ...headers(), 'content-type': 'application/octet-stream' }, body: 'x' });
    const r = await t.api('POST', `/v1/capsules/${id}/files/remove`, { auth: team.apiKey, body: { path: '/tmp/doomed' } });
    assert.equal(r.status, 204);
    const read = await t.api('POST', `/v1/capsules/${id}/files/read`, { auth: team.apiKey, body: { path: '/tmp/doomed' } });
    assert.equal(read.status, 404);
  });

  test('missing paths are 404 file_not_found naming the path, on read, stream read, list and remove', async () => {
    for (const route of ['files/read', 'files/stream/read', 'files/list', 'files/remove']) {
      const r = await t.api('POST', `/v1/capsules/${id}/${route}`, { auth: team.apiKey, body: { path: '/no/such/place' } });
      assert.equal(r.status, 404, route);
      assert.equal(r.body.error.reason, 'file_not_found', route);
      assert.equal(r.body.error.code, 'not_found', route);
      assert.match(r.body.error.message, /\/no\/such\/place/, route);
    }
  });

  test('bad bodies are 400: missing path, unknown field, depth out of range', async () => {
    const cases: unknown[] = [{}, { path: '/tmp', extra: 1 }, { path: '' }];
    for (const body of cases) {
      const r = await t.api('POST', `/v1/capsules/${id}/files/read`, { auth: team.apiKey, body });
      assert.equal(r.status, 400, JSON.stringify(body));
      assert.equal(r.body.error.reason, 'invalid_argument');
      assert.equal(r.body.error.code, 'invalid_request');
    }
    const deep = await t.api('POST', `/v1/capsules/${id}/files/list`, { auth: team.apiKey, body: { path: '/tmp', depth: 0 } });
    assert.equal(deep.status, 400);
  });

  test("another team's capsule is a 404 on every files route, and nothing is written", async () => {
    for (const route of ['files/read', 'files/stream/read', 'files/list', 'files/mkdir', 'files/remove']) {
      const r = await t.api('POST', `/v1/capsules/${id}/${route}`, { auth: other.apiKey, body: { path: '/tmp/intruder' } });
      assert.equal(r.status, 404, route);
      assert.equal(r.body.error.reason, 'capsule_not_found', route);
      assert.equal(r.body.error.code, 'not_found', route);
    }
    const raw = await fetch(`${base()}/files/stream/write?path=/tmp/intruder`, { method: 'POST', headers: { 'x-api-key': other.apiKey, 'content-type': 'application/octet-stream' }, body: 'x' });
    assert.equal(raw.status, 404);
    const form = new FormData();
    form.append('path', '/tmp/intruder');
    form.append('file', new Blob(['x']), 'x');
    const multi = await fetch(`${base()}/files/write`, { method: 'POST', headers: { 'x-api-key': other.apiKey }, body: form });
    assert.equal(multi.status, 404);
    const check = await t.api('POST', `/v1/capsules/${id}/files/read`, { auth: team.apiKey, body: { path: '/tmp/intruder' } });
    assert.equal(check.status, 404);
  });

  test('an unknown capsule id is a 404 on the files routes', async () => {
    const r = await t.api('POST', '/v1/capsules/cl-doesnotexist/files/list', { auth: team.apiKey, body: { path: '/' } });
    assert.equal(r.status, 404);
    assert.equal(r.body.error.reason, 'capsule_not_found');
    assert.equal(r.body.error.code, 'not_found');
  });
});

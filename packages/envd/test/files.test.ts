import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { request, type IncomingHttpHeaders } from 'node:http';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { startEnvd, type TestEnvd, TEST_UID, TEST_GID, TEST_USER } from './harness.js';
import { fileSignature } from '../src/core/auth.js';
import { TEMP_MARKER } from '../src/http/files-staging.js';
import { readUserXattrs } from '../src/filesystem/xattr.js';

interface RawResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** A request through node:http, so the test sees the bytes on the wire (fetch would gunzip). */
function raw(t: TestEnvd, method: string, path: string, headers: Record<string, string> = {}, body?: Buffer): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: t.port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

function q(params: Record<string, string>): string {
  return new URLSearchParams(params).toString();
}

async function uploadForm(t: TestEnvd, query: Record<string, string>, files: Array<{ name?: string; data: Buffer }>): Promise<Response> {
  const form = new FormData();
  for (const f of files) form.append('file', new Blob([f.data]), f.name ?? 'blob');
  return t.fetch(`/files?${q(query)}`, { method: 'POST', body: form });
}

async function download(t: TestEnvd, query: Record<string, string>, headers: Record<string, string> = {}): Promise<Response> {
  return t.fetch(`/files?${q(query)}`, { headers: { 'accept-encoding': 'identity', ...headers } });
}

/** Names in `dir` that are upload temp files. */
function tempFilesIn(dir: string): string[] {
  return readdirSync(dir).filter((n) => n.includes(TEMP_MARKER));
}

async function waitFor(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('envd /files', () => {
  let t: TestEnvd;
  before(async () => {
    t = await startEnvd();
  });
  after(async () => {
    await t.close();
  });

  test('a multipart upload of one file to path can be downloaded byte for byte', async () => {
    const data = randomBytes(200_000);
    const res = await uploadForm(t, { path: 'one/a.bin', username: TEST_USER }, [{ data }]);
    assert.equal(res.status, 200);
    const expected = join(t.testHome, 'one/a.bin');
    assert.deepEqual(await res.json(), [{ path: expected, name: 'a.bin', type: 'file' }]);
    const got = await download(t, { path: '~/one/a.bin', username: TEST_USER });
    assert.equal(got.status, 200);
    assert.equal(got.headers.get('content-type'), 'application/octet-stream');
    assert.equal(got.headers.get('content-length'), String(data.length));
    assert.equal(got.headers.get('accept-ranges'), 'bytes');
    assert.match(got.headers.get('content-disposition') ?? '', /filename="a\.bin"/);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
  });

  test('a multipart upload of several files writes each to its filename (absolute, ~/ and home-relative)', async () => {
    const abs = join(t.testHome, 'multi/abs.txt');
    const files = [
      { name: abs, data: Buffer.from('absolute') },
      { name: '~/multi/tilde.txt', data: Buffer.from('tilde') },
      { name: 'multi/deep/relative.txt', data: Buffer.from('relative') },
    ];
    const res = await uploadForm(t, { username: TEST_USER }, files);
    assert.equal(res.status, 200);
    const entries = (await res.json()) as Array<{ path: string; name: string; type: string }>;
    assert.deepEqual(
      entries.map((e) => e.path),
      [abs, join(t.testHome, 'multi/tilde.txt'), join(t.testHome, 'multi/deep/relative.txt')],
    );
    assert.equal(readFileSync(abs, 'utf8'), 'absolute');
    assert.equal(readFileSync(join(t.testHome, 'multi/tilde.txt'), 'utf8'), 'tilde');
    assert.equal(readFileSync(join(t.testHome, 'multi/deep/relative.txt'), 'utf8'), 'relative');
  });

  test('path with more than one file part is refused with 400 and writes nothing', async () => {
    const res = await uploadForm(t, { path: 'twice.txt', username: TEST_USER }, [
      { data: Buffer.from('1') },
      { data: Buffer.from('2') },
    ]);
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /several "file" parts/);
    assert.equal(existsSync(join(t.testHome, 'twice.txt')), false);
    assert.deepEqual(tempFilesIn(t.testHome), []);
  });

  test('an application/octet-stream body is written to path', async () => {
    const data = randomBytes(70_000);
    const res = await t.fetch(`/files?${q({ path: 'raw/plain.bin', username: TEST_USER })}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: data,
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), [{ path: join(t.testHome, 'raw/plain.bin'), name: 'plain.bin', type: 'file' }]);
    assert.ok(readFileSync(join(t.testHome, 'raw/plain.bin')).equals(data));
  });

  test('an octet-stream upload without path is refused with 400', async () => {
    const res = await t.fetch('/files', { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body: 'x' });
    assert.equal(res.status, 400);
    assert.match(((await res.json()) as { message: string }).message, /path/);
  });

  test('a gzip-encoded octet-stream upload is stored decompressed', async () => {
    const data = Buffer.from('compressible '.repeat(10_000));
    const res = await raw(
      t,
      'POST',
      `/files?${q({ path: 'gz/in.txt', username: TEST_USER })}`,
      { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' },
      gzipSync(data),
    );
    assert.equal(res.status, 200);
    assert.ok(readFileSync(join(t.testHome, 'gz/in.txt')).equals(data));
  });

  test('a body that claims gzip but is not is refused with 400 and leaves no file', async () => {
    const res = await raw(
      t,
      'POST',
      `/files?${q({ path: 'gz/bad.txt', username: TEST_USER })}`,
      { 'content-type': 'application/octet-stream', 'content-encoding': 'gzip' },
      Buffer.from('not gzip at all'),
    );
    assert.equal(res.status, 400);
    assert.equal(existsSync(join(t.testHome, 'gz/bad.txt')), false);
    assert.deepEqual(tempFilesIn(join(t.testHome, 'gz')), []);
  });

  test('a download whose Accept-Encoding merely lists gzip among others is sent as is', async () => {
    const data = Buffer.from('plain please\n'.repeat(1000));
    writeFileSync(join(t.testHome, 'plain.txt'), data);
    chownSync(join(t.testHome, 'plain.txt'), TEST_UID, TEST_GID);
    const res = await raw(t, 'GET', `/files?${q({ path: '~/plain.txt', username: TEST_USER })}`, { 'accept-encoding': 'gzip, deflate, br' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], undefined);
    assert.equal(Number(res.headers['content-length']), data.length);
    assert.deepEqual(res.body, data);
  });

  test('a download with Accept-Encoding: gzip is gzip-coded, without content-length', async () => {
    const data = Buffer.from('hello gzip\n'.repeat(5000));
    writeFileSync(join(t.testHome, 'tozip.txt'), data);
    const res = await raw(t, 'GET', `/files?${q({ path: '~/tozip.txt', username: TEST_USER })}`, { 'accept-encoding': 'gzip' });
    assert.equal(res.status, 200);
    assert.equal(res.headers['content-encoding'], 'gzip');
    assert.equal(res.headers['content-length'], undefined);
    assert.ok(res.body.length < data.length);
    assert.ok(gunzipSync(res.body).equals(data));
  });

  test('Range requests give 206 with content-range, and 416 with bytes */size when unsatisfiable', async () => {
    const data = Buffer.from('0123456789abcdefghij'); // 20 bytes
    writeFileSync(join(t.testHome, 'range.txt'), data);
    const path = `/files?${q({ path: '~/range.txt', username: TEST_USER })}`;
    const cases: Array<[string, string, string]> = [
      ['bytes=2-5', '2345', 'bytes 2-5/20'],
      ['bytes=15-', 'fghij', 'bytes 15-19/20'],
      ['bytes=-3', 'hij', 'bytes 17-19/20'],
      ['bytes=18-100', 'ij', 'bytes 18-19/20'],
    ];
    for (const [range, body, contentRange] of cases) {
      // gzip is asked for too: a range is always served uncompressed.
      const res = await raw(t, 'GET', path, { range, 'accept-encoding': 'gzip' });
      assert.equal(res.status, 206, range);
      assert.equal(res.headers['content-range'], contentRange, range);
      assert.equal(res.headers['content-length'], String(body.length), range);
      assert.equal(res.headers['content-encoding'], undefined, range);
      assert.equal(res.body.toString(), body, range);
    }
    for (const range of ['bytes=20-', 'bytes=25-30', 'bytes=-0']) {
      const res = await raw(t, 'GET', path, { range });
      assert.equal(res.status, 416, range);
      assert.equal(res.headers['content-range'], 'bytes */20', range);
      assert.equal(JSON.parse(res.body.toString()).code, 416);
    }
  });

  test('uploaded files are 0644 and owned by the acting user; missing parents are created 0755 owned by them', async () => {
    const res = await t.fetch(`/files?${q({ path: 'p1/p2/p3/owned.txt' })}`, {
      method: 'POST',
      headers: { ...t.headersFor(TEST_USER), 'content-type': 'application/octet-stream' },
      body: 'mine',
    });
    assert.equal(res.status, 200);
    const file = statSync(join(t.testHome, 'p1/p2/p3/owned.txt'));
    assert.equal(file.uid, TEST_UID);
    assert.equal(file.gid, TEST_GID);
    assert.equal(file.mode & 0o7777, 0o644);
    for (const dir of ['p1', 'p1/p2', 'p1/p2/p3']) {
      const st = statSync(join(t.testHome, dir));
      assert.equal(st.uid, TEST_UID, dir);
      assert.equal(st.mode & 0o7777, 0o755, dir);
    }
  });

  test('overwriting an existing file replaces its content and keeps its mode', async () => {
    const target = join(t.testHome, 'script.sh');
    await uploadForm(t, { path: target, username: TEST_USER }, [{ data: Buffer.from('old') }]);
    chmodSync(target, 0o750);
    const res = await uploadForm(t, { path: target, username: TEST_USER }, [{ data: Buffer.from('new content') }]);
    assert.equal(res.status, 200);
    assert.equal(readFileSync(target, 'utf8'), 'new content');
    assert.equal(statSync(target).mode & 0o7777, 0o750);
    assert.deepEqual(tempFilesIn(t.testHome), []);
  });

  test('X-Metadata-* headers are stored as user.* xattrs on the uploaded file', async () => {
    const res = await t.fetch(`/files?${q({ path: 'meta.txt', username: TEST_USER })}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream', 'x-metadata-owner': 'alice', 'x-metadata-purpose': 'test data' },
      body: 'with metadata',
    });
    assert.equal(res.status, 200);
    assert.deepEqual(await readUserXattrs(join(t.testHome, 'meta.txt')), { owner: 'alice', purpose: 'test data' });
  });

  test('writing into a root-owned 0755 directory as tester is refused with 403 naming the path', async () => {
    const dir = join(t.root, 'root-only');
    mkdirSync(dir, { mode: 0o755 });
    const target = join(dir, 'nope.txt');
    const res = await uploadForm(t, { path: target, username: TEST_USER }, [{ data: Buffer.from('x') }]);
    assert.equal(res.status, 403);
    const body = (await res.json()) as { code: number; message: string };
    assert.equal(body.code, 403);
    assert.ok(body.message.includes(target), body.message);
    assert.deepEqual(readdirSync(dir), []);
  });

  test('reading a root 0600 file as tester is refused with 403 naming the path', async () => {
    const secret = join(t.root, 'secret.txt');
    writeFileSync(secret, 'root only', { mode: 0o600 });
    const res = await download(t, { path: secret, username: TEST_USER });
    assert.equal(res.status, 403);
    const body = (await res.json()) as { message: string };
    assert.ok(body.message.includes(secret), body.message);
    // The same file is readable by root (the default user).
    assert.equal(await (await download(t, { path: secret })).text(), 'root only');
  });

  test('a missing file is 404, a directory is 400, an unknown user is 401', async () => {
    const missing = await download(t, { path: '~/does-not-exist', username: TEST_USER });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { code: number }).code, 404);
    assert.equal((await download(t, { path: t.testHome, username: TEST_USER })).status, 400);
    const ghost = await download(t, { path: '/etc/hostname', username: 'ghost' });
    assert.equal(ghost.status, 401);
    assert.match(((await ghost.json()) as { message: string }).message, /ghost/);
    const ghostUpload = await uploadForm(t, { path: '/tmp/x', username: 'ghost' }, [{ data: Buffer.from('x') }]);
    assert.equal(ghostUpload.status, 401);
  });

  for (const kind of ['multipart', 'octet-stream'] as const) {
    test(`a client that aborts a ${kind} upload midway leaves neither the file nor a temp file`, async () => {
      const dir = join(t.testHome, `aborted-${kind}`);
      mkdirSync(dir);
      const target = join(dir, 'big.bin');
      const boundary = 'wrenn-test-boundary';
      const headers: Record<string, string> =
        kind === 'multipart'
          ? { 'content-type': `multipart/form-data; boundary=${boundary}`, 'content-length': String(50 * 1024 * 1024) }
          : { 'content-type': 'application/octet-stream', 'content-length': String(50 * 1024 * 1024) };
      const req = request({ host: '127.0.0.1', port: t.port, method: 'POST', path: `/files?${q({ path: target })}`, headers });
      const closed = new Promise<void>((resolve) => req.on('close', () => resolve()));
      req.on('error', () => {}); // the abort is the point of the test
      req.on('response', (res) => res.resume());
      if (kind === 'multipart') {
        req.write(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\nContent-Type: application/octet-stream\r\n\r\n`);
      }
      req.write(randomBytes(2 * 1024 * 1024));
      // The upload is underway once its temp file exists; then the client disappears.
      await waitFor('the temp file', () => tempFilesIn(dir).length > 0);
      req.destroy();
      await closed;
      await waitFor('the temp file to be removed', () => tempFilesIn(dir).length === 0);
      assert.deepEqual(readdirSync(dir), []);
      // envd still serves requests afterwards.
      assert.equal((await t.fetch('/health')).status, 200);
    });
  }

  test('a 100 MB upload and download stream through envd with bounded memory and identical sha256', async () => {
    const size = 100 * 1024 * 1024;
    const chunk = randomBytes(1024 * 1024);
    const target = join(t.testHome, 'big/hundred.bin');
    const sentHash = createHash('sha256');
    let peakRss = 0;
    const baseline = process.memoryUsage().rss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, process.memoryUsage().rss);
    }, 10);
    try {
      const uploaded = await new Promise<number>((resolve, reject) => {
        const req = request(
          {
            host: '127.0.0.1',
            port: t.port,
            method: 'POST',
            path: `/files?${q({ path: target, username: TEST_USER })}`,
            headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', reject);
        let i = 0;
        const writeMore = () => {
          while (i < size / chunk.length) {
            const piece = Buffer.from(chunk);
            piece.writeUInt32BE(i++, 0); // every MiB differs
            sentHash.update(piece);
            if (!req.write(piece)) return void req.once('drain', writeMore);
          }
          req.end();
        };
        writeMore();
      });
      assert.equal(uploaded, 200);
      assert.equal(statSync(target).size, size);

      const received = await new Promise<{ status: number; hash: string; bytes: number }>((resolve, reject) => {
        const req = request(
          { host: '127.0.0.1', port: t.port, path: `/files?${q({ path: target, username: TEST_USER })}`, headers: { 'accept-encoding': 'identity' } },
          (res) => {
            const hash = createHash('sha256');
            let bytes = 0;
            res.on('data', (c: Buffer) => {
              hash.update(c);
              bytes += c.length;
            });
            res.on('end', () => resolve({ status: res.statusCode ?? 0, hash: hash.digest('hex'), bytes }));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
      assert.equal(received.status, 200);
      assert.equal(received.bytes, size);
      assert.equal(received.hash, sentHash.digest('hex'));
    } finally {
      clearInterval(sampler);
    }
    // Holding the file (or either body) in memory would add at least 100 MB.
    const growthMb = (peakRss - baseline) / 1024 / 1024;
    assert.ok(growthMb < 60, `rss grew by ${growthMb.toFixed(1)} MB during a 100 MB transfer`);
  });
});

describe('envd /files on a full filesystem', () => {
  let t: TestEnvd;
  let mountPoint: string;
  before(async () => {
    t = await startEnvd();
    mountPoint = mkdtempSync(join(t.root, 'small-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0755', 'wrenn-envd-test', mountPoint]);
  });
  after(async () => {
    try {
      execFileSync('umount', [mountPoint]);
    } finally {
      await t.close();
    }
  });

  test('an upload larger than the free space gives 507 not_enough_disk_space and leaves no temp file', async () => {
    const res = await t.fetch(`/files?${q({ path: join(mountPoint, 'too-big.bin') })}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: randomBytes(3 * 1024 * 1024),
    });
    assert.equal(res.status, 507);
    const body = (await res.json()) as { code: number; reason: string };
    assert.equal(body.code, 507);
    assert.equal(body.reason, 'not_enough_disk_space');
    assert.deepEqual(readdirSync(mountPoint), []);
  });
});

describe('envd /files with signed URLs', () => {
  const token = 'files-secret-token';
  let t: TestEnvd;
  let path: string;
  before(async () => {
    t = await startEnvd();
    path = join(t.testHome, 'signed.txt');
    writeFileSync(path, 'signed content');
    const res = await t.fetch('/init', { method: 'POST', body: JSON.stringify({ accessToken: token }) });
    assert.equal(res.status, 204);
  });
  after(async () => {
    await t.close();
  });

  test('a download without token or signature is refused with 401', async () => {
    assert.equal((await download(t, { path, username: TEST_USER })).status, 401);
  });

  test('a download with a valid signature and expiration succeeds', async () => {
    const expiration = Math.floor(Date.now() / 1000) + 60;
    const signature = fileSignature(path, 'read', TEST_USER, token, expiration);
    const res = await download(t, { path, username: TEST_USER, signature, signature_expiration: String(expiration) });
    assert.equal(res.status, 200);
    assert.equal(await res.text(), 'signed content');
  });

  test('a wrong signature or an expired one is refused with 401', async () => {
    const expiration = Math.floor(Date.now() / 1000) + 60;
    const wrongToken = fileSignature(path, 'read', TEST_USER, 'not-the-token', expiration);
    assert.equal((await download(t, { path, username: TEST_USER, signature: wrongToken, signature_expiration: String(expiration) })).status, 401);
    const writeSig = fileSignature(path, 'write', TEST_USER, token, expiration);
    assert.equal((await download(t, { path, username: TEST_USER, signature: writeSig, signature_expiration: String(expiration) })).status, 401);
    const past = Math.floor(Date.now() / 1000) - 10;
    const expired = fileSignature(path, 'read', TEST_USER, token, past);
    assert.equal((await download(t, { path, username: TEST_USER, signature: expired, signature_expiration: String(past) })).status, 401);
  });

  test('an upload with a valid write signature succeeds', async () => {
    const target = join(t.testHome, 'signed-upload.txt');
    const signature = fileSignature(target, 'write', TEST_USER, token);
    const res = await uploadForm(t, { path: target, username: TEST_USER, signature }, [{ data: Buffer.from('via signature') }]);
    assert.equal(res.status, 200);
    assert.equal(readFileSync(target, 'utf8'), 'via signature');
    assert.equal(statSync(target).uid, TEST_UID);
  });
});

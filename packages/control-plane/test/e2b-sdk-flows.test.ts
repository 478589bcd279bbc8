/**
 * The unmodified `e2b` SDK (2.51) driving a Wrenn sandbox through the control plane's port
 * proxy (E2B_SANDBOX_URL + E2b-Sandbox-Id/Port headers) to envd: commands (foreground with
 * callbacks, background + connect + kill, stdin, envs, cwd, user), files (text, bytes,
 * list with depth, watch, rename, remove, exists, info, modes and owners), PTY, an HTTP
 * server in the sandbox reached at its host, signed file URLs, git.
 */
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { CommandExitError, FileType, FilesystemEventType, Sandbox, type FilesystemEvent } from 'e2b';
import { startE2bFixture, type E2bFixture } from './e2b-support.js';

const DOMAIN = 'wrenn.test';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('e2b SDK: commands, files, PTY, ports, git', () => {
  let f: E2bFixture;
  let sbx: Sandbox;
  before(async () => {
    f = await startE2bFixture({ env: { WRENN_PROXY_DOMAIN: DOMAIN } });
    sbx = f.track(await Sandbox.create({ timeoutMs: 300_000 }));
  });
  after(async () => {
    await sbx?.kill().catch(() => {});
    await f?.close();
  });

  test('a foreground command streams stdout/stderr to callbacks and returns its exit code; non-zero throws CommandExitError', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const res = await sbx.commands.run('echo one; echo two >&2; echo three', { onStdout: (d) => void out.push(d), onStderr: (d) => void err.push(d) });
    assert.equal(res.exitCode, 0);
    assert.equal(res.stdout, 'one\nthree\n');
    assert.equal(out.join(''), 'one\nthree\n');
    assert.equal(err.join(''), 'two\n');
    await assert.rejects(sbx.commands.run('exit 3'), (e: unknown) => e instanceof CommandExitError && e.exitCode === 3);
  });

  test('envs, cwd and user apply; commands run through a login bash', async () => {
    const res = await sbx.commands.run('echo "$GREETING $(pwd) $(whoami) $0"', { envs: { GREETING: 'hi' }, cwd: '/tmp', user: 'root' });
    assert.equal(res.stdout, 'hi /tmp root /bin/bash\n');
    assert.equal((await sbx.commands.run('shopt -q login_shell && echo login')).stdout, 'login\n');
    assert.equal((await sbx.commands.run('python3 -c "print(6*7)"; git --version >/dev/null && curl --version >/dev/null && tput -V >/dev/null && echo tools')).stdout, '42\ntools\n');
  });

  test('a background command: connect to it by pid, send stdin, list and kill it', async () => {
    const handle = await sbx.commands.run('read line; echo "got $line"; sleep 600', { background: true, stdin: true });
    const seen: string[] = [];
    const again = await sbx.commands.connect(handle.pid, { onStdout: (d) => void seen.push(d) });
    await sbx.commands.sendStdin(handle.pid, 'hello\n');
    for (let i = 0; i < 50 && !seen.join('').includes('got hello'); i++) await sleep(100);
    assert.equal(seen.join(''), 'got hello\n');
    assert.ok((await sbx.commands.list()).some((p) => p.pid === handle.pid));
    assert.equal(await sbx.commands.kill(handle.pid), true);
    await assert.rejects(again.wait(), (e: unknown) => e instanceof CommandExitError);
    let listed = true;
    for (let i = 0; i < 50 && listed; i++) {
      listed = (await sbx.commands.list()).some((p) => p.pid === handle.pid);
      if (listed) await sleep(100);
    }
    assert.equal(listed, false, 'the killed process leaves the list');
  });

  test('files: text and bytes round-trip; new files 0644 and dirs 0755 owned by the acting user', async () => {
    await sbx.files.write('/home/user/dir/a.txt', 'hello files');
    assert.equal(await sbx.files.read('/home/user/dir/a.txt'), 'hello files');
    const bytes = new Uint8Array([0, 1, 2, 250, 255]);
    await sbx.files.write('/home/user/dir/b.bin', bytes.buffer);
    assert.deepEqual(await sbx.files.read('/home/user/dir/b.bin', { format: 'bytes' }), bytes);
    const st = await sbx.commands.run('stat -c "%a %U" /home/user/dir /home/user/dir/a.txt');
    assert.equal(st.stdout, '755 user\n644 user\n');
    const info = await sbx.files.getInfo('/home/user/dir/a.txt');
    assert.equal(info.type, FileType.FILE);
    assert.equal(info.size, 11);
    assert.equal(info.owner, 'user');
  });

  test('files: list with depth, exists, rename, remove, makeDir', async () => {
    await sbx.files.makeDir('/home/user/tree/sub');
    await sbx.files.write('/home/user/tree/sub/leaf.txt', 'x');
    const shallow = await sbx.files.list('/home/user/tree');
    assert.deepEqual(shallow.map((e) => e.name), ['sub']);
    const deep = await sbx.files.list('/home/user/tree', { depth: 2 });
    assert.deepEqual(deep.map((e) => e.path).sort(), ['/home/user/tree/sub', '/home/user/tree/sub/leaf.txt']);
    assert.equal(await sbx.files.exists('/home/user/tree/sub/leaf.txt'), true);
    await sbx.files.rename('/home/user/tree/sub/leaf.txt', '/home/user/tree/moved.txt');
    assert.equal(await sbx.files.exists('/home/user/tree/sub/leaf.txt'), false);
    assert.equal(await sbx.files.read('/home/user/tree/moved.txt'), 'x');
    await sbx.files.remove('/home/user/tree');
    assert.equal(await sbx.files.exists('/home/user/tree'), false);
  });

  test('watchDir reports a file written into the directory', async () => {
    await sbx.files.makeDir('/home/user/watched');
    const events: FilesystemEvent[] = [];
    const watcher = await sbx.files.watchDir('/home/user/watched', (e) => void events.push(e));
    try {
      await sbx.files.write('/home/user/watched/new.txt', 'data');
      for (let i = 0; i < 50 && !events.some((e) => e.name === 'new.txt'); i++) await sleep(100);
      assert.ok(events.some((e) => e.name === 'new.txt' && (e.type === FilesystemEventType.CREATE || e.type === FilesystemEventType.WRITE)), JSON.stringify(events));
    } finally {
      await watcher.stop();
    }
  });

  test('PTY: a terminal runs what is typed and reports its exit', async () => {
    const chunks: Uint8Array[] = [];
    const term = await sbx.pty.create({ cols: 80, rows: 24, onData: (d) => void chunks.push(d) });
    await sbx.pty.sendInput(term.pid, new TextEncoder().encode('echo pty-$((6*7)); exit 7\n'));
    const result = await term.wait().catch((e: unknown) => e as CommandExitError);
    assert.equal(result.exitCode, 7);
    assert.match(Buffer.concat(chunks).toString(), /pty-42/);
  });

  test('an HTTP server in the sandbox is reached at sandbox.getHost(port) through the control plane', async () => {
    await sbx.commands.run('mkdir -p /home/user/www && echo served > /home/user/www/index.html && cd /home/user/www && python3 -m http.server 8000', { background: true });
    const host = sbx.getHost(8000);
    assert.equal(host, `8000-${sbx.sandboxId}.${DOMAIN}`);
    let body = '';
    for (let i = 0; i < 50 && body !== 'served\n'; i++) {
      body = await new Promise<string>((resolve) => {
        const req = httpRequest({ host: '127.0.0.1', port: f.t.port, path: '/index.html', headers: { host } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve(res.statusCode === 200 ? Buffer.concat(parts).toString() : ''));
        });
        req.on('error', () => resolve(''));
        req.end();
      });
      if (body !== 'served\n') await sleep(200);
    }
    assert.equal(body, 'served\n');
  });

  test('signed file URLs: downloadUrl and uploadUrl work with the signature the SDK computes, a tampered one is refused', async () => {
    await sbx.files.write('/home/user/signed.txt', 'signed content');
    const viaHost = (u: string) => {
      // The SDK builds URLs on E2B_SANDBOX_URL; address the sandbox by host (WRENN_PROXY_DOMAIN).
      const url = new URL(u);
      return { url: `http://127.0.0.1:${f.t.port}${url.pathname}${url.search}`, host: `49983-${sbx.sandboxId}.${DOMAIN}` };
    };
    const get = async (u: string) => {
      const { url, host } = viaHost(u);
      return new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(url, { headers: { host } }, (res) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(parts).toString() }));
        });
        req.on('error', reject);
        req.end();
      });
    };
    const down = await sbx.downloadUrl('/home/user/signed.txt', { useSignatureExpiration: 60 });
    assert.match(down, /signature=v1_/);
    assert.deepEqual(await get(down), { status: 200, body: 'signed content' });
    const tampered = down.replace('signed.txt', 'other.txt');
    assert.equal((await get(tampered)).status, 401);
    const up = await sbx.uploadUrl('/home/user/uploaded.txt');
    const { url, host } = viaHost(up);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(url, { method: 'POST', headers: { host, 'content-type': 'application/octet-stream' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      });
      req.on('error', reject);
      req.end('uploaded via url');
    });
    assert.equal(status, 200);
    assert.equal(await sbx.files.read('/home/user/uploaded.txt'), 'uploaded via url');
  });

  test('git: init, commit and log through sandbox.git', async () => {
    await sbx.git.init('/home/user/repo');
    await sbx.git.configureUser('Test', 'test@example.test', { scope: 'local', path: '/home/user/repo' });
    await sbx.files.write('/home/user/repo/readme.md', '# hi\n');
    await sbx.git.add('/home/user/repo', { all: true });
    await sbx.git.commit('/home/user/repo', 'first');
    const log = await sbx.commands.run('git -C /home/user/repo log --format=%s');
    assert.equal(log.stdout, 'first\n');
    const status = await sbx.git.status('/home/user/repo');
    assert.equal(status.fileStatus.length, 0);
  });
});

/**
 * The template store against the real filesystem, as root: the busybox template, the uid
 * shift (owners, setuid bits, symlinks, hard links, capabilities, ACLs, refused ids), builds
 * that crash half-way, and the Debian `minimal` template, which is built once into
 * <repo>/.wrenn-test/data and reused by later runs (the first build takes ~20-60 s).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { chmod, chown, link, lstat, mkdir, mkdtemp, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { silentLogger, WrennError } from '@wrenn/shared';
import { run } from '../src/infra/exec.js';
import { TemplateStore, type TemplateBuildProgress } from '../src/infra/template/index.js';
import { mirrorLinesFor, readHostAptArchives } from '../src/infra/template/apt-mirrors.js';
import { createCapsuleRootfs } from '../src/infra/rootfs/index.js';
import { removeTreeSafely } from '../src/infra/rootfs/remove-tree.js';

const repo = resolve(import.meta.dirname, '../../..');
const idMapping = { hostBase: 100000, size: 65536 };
const hostBase = idMapping.hostBase;
const logger = silentLogger();

async function tempDir(label: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `wrenn-template-${label}-${process.pid}-${Math.random().toString(36).slice(2, 8)}-`));
}

async function rejectsWithCode(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof WrennError, `expected a WrennError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (message) assert.match(err.message, message);
    return true;
  });
}

async function xattrHex(path: string, name: string): Promise<string> {
  const { stdout } = await run('getfattr', ['--no-dereference', '--absolute-names', '--name', name, '--encoding', 'hex', path]);
  const line = stdout.split('\n').find((l) => l.startsWith(`${name}=0x`));
  assert.ok(line, `${path} has no ${name} attribute: ${stdout}`);
  return line.slice(name.length + 3);
}

/** POSIX ACL v2 xattr: owner rwx, named user `uid` r-x, group r-x, mask rwx, other r-x. */
function aclWithNamedUser(uid: number): Buffer {
  const entries: Array<[number, number, number]> = [
    [0x01, 7, 0xffffffff],
    [0x02, 5, uid],
    [0x04, 5, 0xffffffff],
    [0x10, 7, 0xffffffff],
    [0x20, 5, 0xffffffff],
  ];
  const buf = Buffer.alloc(4 + entries.length * 8);
  buf.writeUInt32LE(2, 0);
  entries.forEach(([tag, perm, id], i) => {
    buf.writeUInt16LE(tag, 4 + i * 8);
    buf.writeUInt16LE(perm, 6 + i * 8);
    buf.writeUInt32LE(id, 8 + i * 8);
  });
  return buf;
}

describe('template store', () => {
  let dataDir: string;
  let store: TemplateStore;

  before(async () => {
    dataDir = await tempDir('data');
    store = new TemplateStore({ dataDir, idMapping, logger });
  });

  after(async () => {
    await removeTreeSafely(dataDir);
  });

  test('builds the busybox template quickly with owners shifted into the capsule range', async (t) => {
    const progress: TemplateBuildProgress[] = [];
    const startedAt = performance.now();
    const template = await store.ensureBusybox({ onProgress: (p) => progress.push(p) });
    const durationMs = performance.now() - startedAt;
    t.diagnostic(`busybox template: ${Math.round(durationMs)} ms, ${template.sizeBytes} bytes`);
    assert.ok(durationMs < 2000, `busybox build took ${durationMs} ms`);

    assert.equal(template.lowerDir, join(dataDir, 'templates/busybox/rootfs'));
    assert.equal(template.defaultUser, 'user');
    assert.ok(template.sizeBytes > 1_000_000, `size ${template.sizeBytes}`);
    const busybox = await stat(join(template.lowerDir, 'bin/busybox'));
    assert.equal(busybox.uid, hostBase);
    assert.equal(busybox.gid, hostBase);
    assert.equal((await lstat(join(template.lowerDir, 'bin/sh'))).isSymbolicLink(), true);
    assert.equal((await lstat(join(template.lowerDir, 'bin/sh'))).uid, hostBase);
    const home = await stat(join(template.lowerDir, 'home/user'));
    assert.equal(home.uid, hostBase + 1000);
    assert.equal(home.gid, hostBase + 1000);
    assert.equal((await stat(join(template.lowerDir, 'tmp'))).mode & 0o7777, 0o1777);
    for (const dir of ['proc', 'sys', 'dev', 'run', 'root']) assert.ok((await stat(join(template.lowerDir, dir))).isDirectory(), dir);
    assert.match(await readFile(join(template.lowerDir, 'etc/passwd'), 'utf8'), /^user:x:1000:1000:/m);

    const steps = progress.map((p) => p.step);
    assert.deepEqual(steps, [...steps].sort((a, b) => a - b), 'progress steps only go forward');
    assert.equal(progress.at(-1)?.done, true);
    assert.equal(progress.at(-1)?.percent, 100);

    const metadata = JSON.parse(await readFile(join(dataDir, 'templates/busybox/template.json'), 'utf8'));
    assert.equal(metadata.version, 1);
    assert.deepEqual(metadata.idMapping, idMapping);
    assert.deepEqual(await store.get('busybox'), template);
    assert.deepEqual((await store.list()).map((x) => x.name), ['busybox']);
  });

  test('a second ensure is a no-op and rebuild replaces the template', async () => {
    const first = await store.ensureBusybox();
    const again = await store.ensureBusybox({ onProgress: () => assert.fail('a cached template reports no build progress') });
    assert.equal(again.createdAt, first.createdAt);
    const rebuilt = await store.ensureBusybox({ rebuild: true });
    assert.notEqual(rebuilt.createdAt, first.createdAt);
    assert.deepEqual(await readdir(join(dataDir, 'templates/.tmp/busybox')), [], 'no build or trash directory is left');
  });

  test('import shifts owners, keeps setuid/setgid bits, hard links, capabilities and ACLs, and never follows symlinks', async (t) => {
    const work = await tempDir('import');
    t.after(() => removeTreeSafely(work));
    const src = join(work, 'src');
    await mkdir(join(src, 'bin'), { recursive: true });
    await mkdir(join(src, 'shared'));
    const outside = join(work, 'outside.txt');
    await writeFile(outside, 'host file');

    await writeFile(join(src, 'bin/suid'), '#!/bin/sh\n');
    await chmod(join(src, 'bin/suid'), 0o4755);
    await writeFile(join(src, 'bin/sgid'), '#!/bin/sh\n');
    await chown(join(src, 'bin/sgid'), 1000, 50);
    await chmod(join(src, 'bin/sgid'), 0o2755);
    await chown(join(src, 'shared'), 1001, 1001);
    await chmod(join(src, 'shared'), 0o2775);
    await writeFile(join(src, 'data'), 'linked');
    await chown(join(src, 'data'), 1000, 1000);
    await link(join(src, 'data'), join(src, 'data-link'));
    await symlink(outside, join(src, 'escape'));
    await symlink('/does/not/exist', join(src, 'dangling'));
    await run('mkfifo', [join(src, 'fifo')]);
    await writeFile(join(src, 'bin/ping'), '');
    // cap_net_raw+ep as a v2 capability (no root id): what setcap writes on the host.
    await run('setfattr', ['--name', 'security.capability', '--value', '0x0100000200200000000000000000000000000000', join(src, 'bin/ping')]);
    await run('setfattr', ['--name', 'system.posix_acl_access', '--value', `0x${aclWithNamedUser(1000).toString('hex')}`, join(src, 'shared')]);

    const template = await store.importRootfs('imported', src, { defaultUser: 'root', defaultWorkdir: '/' });
    const root = template.lowerDir;

    const suid = await stat(join(root, 'bin/suid'));
    assert.equal(suid.uid, hostBase);
    assert.equal(suid.mode & 0o7777, 0o4755, 'setuid bit kept');
    const sgid = await stat(join(root, 'bin/sgid'));
    assert.deepEqual([sgid.uid, sgid.gid], [hostBase + 1000, hostBase + 50]);
    assert.equal(sgid.mode & 0o7777, 0o2755, 'setgid bit kept');
    const shared = await stat(join(root, 'shared'));
    assert.deepEqual([shared.uid, shared.gid, shared.mode & 0o7777], [hostBase + 1001, hostBase + 1001, 0o2775]);

    const data = await stat(join(root, 'data'));
    const dataLink = await stat(join(root, 'data-link'));
    assert.equal(data.ino, dataLink.ino, 'hard link preserved');
    assert.equal(data.nlink, 2);
    assert.equal(data.uid, hostBase + 1000, 'a hard-linked inode is shifted once, not once per name');

    const escape = await lstat(join(root, 'escape'));
    assert.equal(escape.isSymbolicLink(), true);
    assert.equal(escape.uid, hostBase);
    const outsideAfter = await stat(outside);
    assert.equal(outsideAfter.uid, 0, 'the symlink target outside the tree was not touched');
    assert.equal((await lstat(join(root, 'dangling'))).uid, hostBase);
    const fifo = await lstat(join(root, 'fifo'));
    assert.equal(fifo.isFIFO(), true);
    assert.equal(fifo.uid, hostBase);

    // v3 capability whose root id is the capsule's root: the only form applied inside its user namespace.
    const cap = Buffer.from(await xattrHex(join(root, 'bin/ping'), 'security.capability'), 'hex');
    assert.equal(cap.length, 24);
    assert.equal(cap.readUInt32LE(0), 0x03000001);
    assert.equal(cap.readUInt32LE(4), 0x2000, 'cap_net_raw still permitted');
    assert.equal(cap.readUInt32LE(20), hostBase);
    const acl = Buffer.from(await xattrHex(join(root, 'shared'), 'system.posix_acl_access'), 'hex');
    assert.equal(acl.readUInt16LE(12), 0x02);
    assert.equal(acl.readUInt32LE(16), hostBase + 1000, 'named ACL user shifted');

    assert.equal((await stat(join(src, 'bin/suid'))).uid, 0, 'the source tree is left as it was');
    await rejectsWithCode(store.importRootfs('imported', src, { defaultUser: 'root' }), 'already_exists');
  });

  test('an owner outside the mapped range is refused and leaves no template behind', async (t) => {
    const work = await tempDir('range');
    t.after(() => removeTreeSafely(work));
    const src = join(work, 'src');
    await mkdir(join(src, 'etc'), { recursive: true });
    await writeFile(join(src, 'etc/too-high'), '');
    await chown(join(src, 'etc/too-high'), 70000, 0);

    await rejectsWithCode(store.importRootfs('too-high', src, { defaultUser: 'root' }), 'invalid_argument', /too-high is owned by uid 70000, outside the capsule id range 0-65535/);
    await rejectsWithCode(store.get('too-high'), 'template_not_found', /template too-high does not exist/);
    assert.deepEqual(await readdir(join(dataDir, 'templates/.tmp/too-high')), []);
  });

  test('unknown and invalid template names give clear errors', async () => {
    await rejectsWithCode(store.get('nope'), 'template_not_found', /template nope does not exist/);
    await rejectsWithCode(store.get('../etc'), 'invalid_argument');
    await rejectsWithCode(store.remove('nope'), 'template_not_found');
  });

  test('a build killed half-way leaves no template, and the next build cleans up after it', async (t) => {
    const crashDir = await tempDir('crash');
    t.after(() => removeTreeSafely(crashDir));
    const storeModule = join(repo, 'packages/host-agent/src/infra/template/index.ts');
    const script = `
      import { TemplateStore } from ${JSON.stringify(storeModule)};
      import { silentLogger } from '@wrenn/shared';
      const store = new TemplateStore({ dataDir: ${JSON.stringify(crashDir)}, idMapping: ${JSON.stringify(idMapping)}, logger: silentLogger() });
      await store.ensureBusybox({ onProgress: (p) => { if (p.step === 2) { console.log('shifting'); process.kill(process.pid, 'SIGKILL'); } } });
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: join(repo, 'packages/host-agent'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    const signal = await new Promise<NodeJS.Signals | null>((res) => child.on('close', (_code, sig) => res(sig)));
    assert.equal(signal, 'SIGKILL');
    assert.match(stdout, /shifting/);

    const templates = join(crashDir, 'templates');
    assert.equal(existsSync(join(templates, 'busybox')), false, 'no half-built template is visible');
    assert.equal((await readdir(join(templates, '.tmp/busybox'))).length, 1, 'the crashed build directory is still there');
    assert.equal(existsSync(join(templates, '.locks/busybox.lock')), true, 'the dead build still holds its lock file');

    const crashStore = new TemplateStore({ dataDir: crashDir, idMapping, logger });
    const template = await crashStore.ensureBusybox();
    assert.equal((await stat(join(template.lowerDir, 'bin/busybox'))).uid, hostBase);
    assert.deepEqual(await readdir(join(templates, '.tmp/busybox')), []);
    assert.equal(existsSync(join(templates, '.locks/busybox.lock')), false);
  });

  test('a template used by a mounted capsule cannot be removed or rebuilt', async (t) => {
    const template = await store.ensureBusybox();
    const capsuleDir = join(dataDir, 'capsules', `c-${process.pid}-in-use`);
    const rootfs = await createCapsuleRootfs({ capsuleDir, template, diskSizeBytes: 64 << 20, idMapping });
    t.after(async () => {
      await rootfs.unmount();
      await removeTreeSafely(capsuleDir);
    });
    await rejectsWithCode(store.remove('busybox'), 'failed_precondition', /in use by 1 mounted capsule/);
    await rejectsWithCode(store.ensureBusybox({ rebuild: true }), 'failed_precondition', /in use/);
    assert.ok(existsSync(join(rootfs.mergedDir, 'bin/busybox')));

    await rootfs.unmount();
    await store.remove('busybox');
    await rejectsWithCode(store.get('busybox'), 'template_not_found');
    assert.equal(existsSync(template.lowerDir), false);
  });
});

describe('Debian archive of the host', () => {
  test('is read from deb822 and one-line apt sources, security archive apart', async (t) => {
    const aptDir = await tempDir('apt');
    t.after(() => removeTreeSafely(aptDir));
    await mkdir(join(aptDir, 'sources.list.d'));
    // Placeholder hosts under the reserved .test domain: the real mirror only ever comes from the machine.
    await writeFile(
      join(aptDir, 'sources.list.d/debian.sources'),
      [
        '# comment',
        'Types: deb deb-src',
        'URIs: http://archive.apt-mirror.test/debian',
        'Suites: bookworm bookworm-updates',
        'Components: main',
        '',
        'Types: deb',
        'URIs: http://security.apt-mirror.test/debian-security',
        'Suites: bookworm-security',
        'Components: main',
        '',
      ].join('\n'),
    );
    await writeFile(join(aptDir, 'sources.list'), '# deb http://old.apt-mirror.test/debian bookworm main\n');
    const archives = await readHostAptArchives(aptDir);
    assert.deepEqual(archives, { mainUri: 'http://archive.apt-mirror.test/debian', securityUri: 'http://security.apt-mirror.test/debian-security' });
    assert.deepEqual(mirrorLinesFor('bookworm', archives), [
      'deb http://archive.apt-mirror.test/debian bookworm main',
      'deb http://archive.apt-mirror.test/debian bookworm-updates main',
      'deb http://security.apt-mirror.test/debian-security bookworm-security main',
    ]);

    await writeFile(join(aptDir, 'sources.list.d/debian.sources'), '');
    await writeFile(join(aptDir, 'sources.list'), 'deb [arch=amd64] http://one.apt-mirror.test/debian bookworm main\n');
    assert.deepEqual(await readHostAptArchives(aptDir), { mainUri: 'http://one.apt-mirror.test/debian' });
    assert.deepEqual(mirrorLinesFor('bookworm', {}), [], 'no configured archive: mmdebstrap picks its default');
  });
});

describe('minimal template (Debian bookworm, cached in .wrenn-test/data)', () => {
  const dataDir = join(repo, '.wrenn-test/data');

  test('a cancelled build stops every build process and leaves no mount, no tree and no template', async (t) => {
    const cancelDir = await tempDir('cancel');
    t.after(() => removeTreeSafely(cancelDir));
    const store = new TemplateStore({ dataDir: cancelDir, idMapping, logger });
    const abort = new AbortController();
    let buildDir: string | undefined;
    const build = store.ensureMinimal({
      signal: abort.signal,
      onProgress: (p) => {
        // Cancel while dpkg runs inside the tree, with /proc, /sys and /dev mounted in it.
        if (p.message === 'installing essential packages') {
          buildDir = join(cancelDir, 'templates/.tmp/minimal');
          setTimeout(() => abort.abort(), 1000);
        }
      },
    });
    await rejectsWithCode(build, 'canceled', /building template minimal was cancelled/);
    assert.ok(buildDir, 'the build got as far as installing packages');
    assert.deepEqual(await readdir(buildDir), [], 'the half-built tree is deleted');
    assert.equal(existsSync(join(cancelDir, 'templates/minimal')), false);
    const mounts = (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').filter((l) => l.includes(cancelDir));
    assert.deepEqual(mounts, []);
    const buildProcesses = async () => {
      const found: string[] = [];
      for (const pid of (await readdir('/proc')).filter((p) => /^\d+$/.test(p))) {
        const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
        if (cmdline.includes(cancelDir)) found.push(`${pid}: ${cmdline.replaceAll('\0', ' ')}`);
      }
      return found;
    };
    // The kernel kills the build's pid namespace as its init dies; give the kills a moment to land.
    for (let i = 0; i < 20 && (await buildProcesses()).length > 0; i += 1) await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await buildProcesses(), [], 'no mmdebstrap, apt or dpkg process outlives the build');
  });

  test('is built once with python3, sudo, wrenn-user and user, then reused', async (t) => {
    const store = new TemplateStore({ dataDir, idMapping, logger });
    const progress: TemplateBuildProgress[] = [];
    const startedAt = performance.now();
    const template = await store.ensureMinimal({ onProgress: (p) => progress.push(p) });
    const durationMs = Math.round(performance.now() - startedAt);
    const metadata = JSON.parse(await readFile(join(dataDir, 'templates/minimal/template.json'), 'utf8'));
    t.diagnostic(
      `minimal: ensure ${durationMs} ms (${progress.length > 0 ? 'built now' : 'cached'}); ` +
        `build ${metadata.build.durationMs} ms, shift ${metadata.build.shiftMs} ms, ${metadata.build.entries} entries, ${template.sizeBytes} bytes`,
    );
    if (progress.length > 0) {
      const messages = progress.map((p) => p.message);
      for (const phase of ['updating package lists', 'installing packages', 'creating users and sudo rules', 'shifting owners into the capsule id range']) {
        assert.ok(messages.includes(phase), `progress reported "${phase}": ${messages.join(' | ')}`);
      }
      assert.equal(progress.at(-1)?.done, true);
    }

    const root = template.lowerDir;
    assert.equal(template.defaultUser, 'wrenn-user');
    assert.equal(template.defaultWorkdir, '/home/wrenn-user');
    assert.ok(template.sizeBytes > 100_000_000, `size ${template.sizeBytes}`);
    for (const tool of ['usr/bin/python3', 'usr/bin/sudo', 'usr/bin/git', 'usr/bin/curl', 'usr/bin/bash', 'usr/bin/nano', 'usr/bin/less', 'usr/bin/ps', 'usr/bin/pip3', 'usr/sbin/ip']) {
      assert.ok(existsSync(join(root, tool)), `${tool} is installed`);
    }
    const passwd = await readFile(join(root, 'etc/passwd'), 'utf8');
    assert.match(passwd, /^wrenn-user:x:1000:1000::\/home\/wrenn-user:\/bin\/bash$/m);
    assert.match(passwd, /^user:x:1001:1001::\/home\/user:\/bin\/bash$/m);
    for (const [name, uid] of [['wrenn-user', 1000], ['user', 1001]] as const) {
      const sudoers = join(root, 'etc/sudoers.d', name);
      assert.equal(await readFile(sudoers, 'utf8'), `${name} ALL=(ALL:ALL) NOPASSWD: ALL\n`);
      const st = await stat(sudoers);
      assert.equal(st.mode & 0o7777, 0o440);
      assert.equal(st.uid, hostBase);
      const home = await stat(join(root, 'home', name));
      assert.deepEqual([home.uid, home.gid], [hostBase + uid, hostBase + uid]);
    }
    const sudo = await stat(join(root, 'usr/bin/sudo'));
    assert.equal(sudo.uid, hostBase);
    assert.equal(sudo.mode & 0o4000, 0o4000, 'sudo keeps its setuid bit after the shift');
    const shadow = await stat(join(root, 'etc/shadow'));
    assert.equal(shadow.gid, hostBase + 42, 'group shadow (42) shifted');
    assert.deepEqual(await readdir(join(root, 'var/cache/apt/archives')).then((e) => e.filter((n) => n.endsWith('.deb'))), []);
    assert.equal(await readFile(join(root, 'etc/resolv.conf'), 'utf8'), '', "the build host's resolver is not baked in");

    const againStartedAt = performance.now();
    const again = await store.ensureMinimal({ onProgress: () => assert.fail('a cached template is not rebuilt') });
    assert.equal(again.createdAt, template.createdAt);
    assert.ok(performance.now() - againStartedAt < 1000);
  });
});

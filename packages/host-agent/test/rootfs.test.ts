/**
 * Capsule root filesystems against real loop devices, ext4 and overlayfs, as root: the
 * sparse upper image, writes that stay in the upper layer, remount from the image, rollback
 * of a create that fails half-way, a full disk (ENOSPC inside, nothing outside), and the
 * cleanup a restarted agent does for capsules of a run that crashed.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, stat, statfs, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { silentLogger, WrennError } from '@wrenn/shared';
import { run } from '../src/infra/exec.js';
import { TemplateStore } from '../src/infra/template/index.js';
import {
  createCapsuleRootfs,
  findLeftoverMounts,
  mountExistingCapsuleRootfs,
  mountsAtOrUnder,
  readMountInfo,
  releaseAllLeftoverRootfs,
  removeCapsuleRootfs,
  upperImageSizeBytes,
  listLoops,
  type CapsuleRootfs,
  type TemplateInfo,
} from '../src/infra/rootfs/index.js';
import { attachLoop, parseLosetupJson } from '../src/infra/rootfs/loop.js';
import { parseMountInfo } from '../src/infra/rootfs/mountinfo.js';
import { createSparseFile } from '../src/infra/rootfs/ext4-image.js';
import { removeTreeSafely } from '../src/infra/rootfs/remove-tree.js';

const repo = resolve(import.meta.dirname, '../../..');
const idMapping = { hostBase: 100000, size: 65536 };
const MiB = 1024 * 1024;
const logger = silentLogger();

async function mountsUnder(dir: string): Promise<string[]> {
  return mountsAtOrUnder(await readMountInfo(), dir).map((m) => m.mountPoint);
}

async function loopsUnder(dir: string): Promise<string[]> {
  return (await listLoops()).filter((l) => l.backingFile.startsWith(`${dir}/`)).map((l) => l.name);
}

/**
 * Runs a busybox applet of the capsule's rootfs as the capsule's root (host uid hostBase),
 * chrooted into the merged dir: what a process in the capsule does, minus the namespaces.
 */
function asCapsuleRoot(mergedDir: string, args: string[], input?: Buffer) {
  const id = String(idMapping.hostBase);
  return run('chroot', [`--userspec=${id}:${id}`, `--groups=${id}`, mergedDir, '/bin/busybox', ...args], { allowFailure: true, input });
}

describe('kernel state parsing', () => {
  test('mountinfo: escaped mount points, optional fields and overlay options', () => {
    const [entry] = parseMountInfo(
      '412 28 0:77 / /var/lib/wrenn/capsules/a\\040b/rootfs rw,relatime shared:210 master:1 - overlay overlay rw,lowerdir=/t/rootfs,upperdir=/u,workdir=/w\n',
    );
    assert.deepEqual(entry, {
      mountId: 412,
      parentId: 28,
      mountPoint: '/var/lib/wrenn/capsules/a b/rootfs',
      fsType: 'overlay',
      source: 'overlay',
      superOptions: 'rw,lowerdir=/t/rootfs,upperdir=/u,workdir=/w',
    });
  });

  test('losetup --json: deleted backing files and no devices at all', () => {
    assert.deepEqual(parseLosetupJson(''), []);
    assert.deepEqual(parseLosetupJson('{"loopdevices": [{"name": "/dev/loop1", "back-file": "/d/c/upper.ext4 (deleted)"}, {"name": "/dev/loop2", "back-file": null}]}'), [
      { name: '/dev/loop1', backingFile: '/d/c/upper.ext4', backingFileDeleted: true },
    ]);
  });
});

describe('capsule rootfs', () => {
  let dataDir: string;
  let template: TemplateInfo;
  let counter = 0;
  const newCapsuleDir = () => join(dataDir, 'capsules', `c-${process.pid}-${(counter += 1)}-${Math.random().toString(36).slice(2, 6)}`);

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), `wrenn-rootfs-${process.pid}-`));
    template = await new TemplateStore({ dataDir, idMapping, logger }).ensureBusybox();
  });

  after(async () => {
    // Whatever a failing test left mounted or attached goes first, then the files.
    await releaseAllLeftoverRootfs(dataDir);
    await removeTreeSafely(dataDir);
  });

  async function withRootfs(t: { after: (fn: () => Promise<void>) => void }, diskSizeBytes = 256 * MiB): Promise<CapsuleRootfs & { capsuleDir: string }> {
    const capsuleDir = newCapsuleDir();
    const rootfs = await createCapsuleRootfs({ capsuleDir, template, diskSizeBytes, idMapping, logger });
    t.after(() => removeCapsuleRootfs(capsuleDir));
    return Object.assign(rootfs, { capsuleDir });
  }

  test('the upper image is a sparse ext4 of the requested size and the overlay shows the template', async (t) => {
    const rootfs = await withRootfs(t, 1024 * MiB);
    const image = await stat(rootfs.imagePath);
    assert.equal(image.size, 1024 * MiB);
    assert.equal(rootfs.sizeBytes, 1024 * MiB);
    assert.ok(image.blocks * 512 < 40 * MiB, `image allocates ${image.blocks * 512} bytes of 1 GiB`);
    t.diagnostic(`1 GiB image allocates ${((image.blocks * 512) / MiB).toFixed(1)} MiB`);

    const mounts = mountsAtOrUnder(await readMountInfo(), rootfs.capsuleDir);
    const overlay = mounts.find((m) => m.mountPoint === rootfs.mergedDir);
    assert.equal(overlay?.fsType, 'overlay');
    assert.match(overlay?.superOptions ?? '', new RegExp(`lowerdir=${template.lowerDir}`));
    assert.equal(mounts.find((m) => m.mountPoint.endsWith('/upper-mnt'))?.source, rootfs.loopDevice);
    assert.ok((await listLoops()).some((l) => l.name === rootfs.loopDevice && l.backingFile === rootfs.imagePath));

    assert.ok(existsSync(join(rootfs.mergedDir, 'bin/busybox')));
    const root = await stat(rootfs.mergedDir);
    assert.deepEqual([root.uid, root.mode & 0o777], [idMapping.hostBase, 0o755], "the capsule's / is its root's, like the template's");
    const usage = await rootfs.diskUsage();
    assert.ok(usage.totalBytes > 900 * MiB && usage.usedBytes < 64 * MiB, JSON.stringify(usage));
  });

  test('the image is never smaller than the template plus headroom (H6)', async (t) => {
    assert.equal(upperImageSizeBytes(10 * 1024 * MiB, 300 * MiB), 10 * 1024 * MiB);
    assert.ok(upperImageSizeBytes(1 * MiB, 300 * MiB) >= 330 * MiB);
    assert.ok(upperImageSizeBytes(0, 0) >= 64 * MiB);
    assert.throws(() => upperImageSizeBytes(-1, 0), WrennError);

    const rootfs = await withRootfs(t, 1 * MiB);
    assert.ok(rootfs.sizeBytes >= template.sizeBytes + 64 * MiB, `${rootfs.sizeBytes} for a ${template.sizeBytes}-byte template`);
  });

  test('writes land in the upper layer, the template is unchanged, and they survive unmount and remount', async (t) => {
    const rootfs = await withRootfs(t);
    const capsuleDir = rootfs.capsuleDir;
    await writeFile(join(rootfs.mergedDir, 'home/user/hello.txt'), 'hi from the capsule');
    await writeFile(join(rootfs.mergedDir, 'etc/passwd'), 'changed\n');
    await run('rm', [join(rootfs.mergedDir, 'bin/ls')]);

    assert.equal(existsSync(join(template.lowerDir, 'home/user/hello.txt')), false);
    assert.match(await readFile(join(template.lowerDir, 'etc/passwd'), 'utf8'), /^root:/);
    assert.ok(existsSync(join(template.lowerDir, 'bin/ls')), 'deleting in the capsule leaves the template intact');
    assert.equal(await readFile(join(capsuleDir, 'upper-mnt/upper/home/user/hello.txt'), 'utf8'), 'hi from the capsule');

    await rootfs.unmount();
    assert.deepEqual(await mountsUnder(capsuleDir), []);
    assert.deepEqual(await loopsUnder(capsuleDir), []);
    assert.ok(existsSync(rootfs.imagePath), 'unmount keeps the image (pause)');

    const again = await mountExistingCapsuleRootfs({ capsuleDir, template, logger });
    assert.equal(await readFile(join(again.mergedDir, 'home/user/hello.txt'), 'utf8'), 'hi from the capsule');
    assert.equal(await readFile(join(again.mergedDir, 'etc/passwd'), 'utf8'), 'changed\n');
    assert.equal(existsSync(join(again.mergedDir, 'bin/ls')), false);
    assert.equal(again.sizeBytes, rootfs.sizeBytes);
    await again.unmount();
  });

  test('mounting an existing rootfs that is still mounted adopts it (agent restart)', async (t) => {
    const rootfs = await withRootfs(t);
    const before = await mountsUnder(rootfs.capsuleDir);
    const adopted = await mountExistingCapsuleRootfs({ capsuleDir: rootfs.capsuleDir, template, logger });
    assert.equal(adopted.loopDevice, rootfs.loopDevice);
    assert.deepEqual(await mountsUnder(rootfs.capsuleDir), before, 'nothing mounted twice');
    assert.equal((await loopsUnder(rootfs.capsuleDir)).length, 1);
  });

  test('a create that fails half-way leaves no mount, no loop device and no file', async (t) => {
    // Fails after the image is made, attached and mounted: the template layer is missing.
    const capsuleDir = newCapsuleDir();
    const missing = { ...template, lowerDir: join(dataDir, 'no-such-template/rootfs') };
    await assert.rejects(createCapsuleRootfs({ capsuleDir, template: missing, diskSizeBytes: 128 * MiB, idMapping, logger }), (err: unknown) => {
      assert.ok(err instanceof WrennError);
      assert.equal(err.code, 'failed_precondition');
      assert.match(err.message, /no-such-template\/rootfs is not readable/);
      return true;
    });
    assert.deepEqual(await mountsUnder(capsuleDir), []);
    assert.deepEqual(await loopsUnder(capsuleDir), []);
    assert.equal(existsSync(capsuleDir), false, 'the capsule dir it created is gone too');

    // Fails at the very last step (the overlay mount), in a capsule dir the caller owns.
    const ownedDir = newCapsuleDir();
    await mkdir(ownedDir, { recursive: true });
    await writeFile(join(ownedDir, 'config.json'), '{}');
    t.after(() => removeTreeSafely(ownedDir));
    const unmountable = join(dataDir, 'bad,layer');
    await mkdir(unmountable);
    await assert.rejects(createCapsuleRootfs({ capsuleDir: ownedDir, template: { ...template, lowerDir: unmountable }, diskSizeBytes: 128 * MiB, idMapping, logger }), /cannot be an overlay layer/);
    assert.deepEqual(await mountsUnder(ownedDir), []);
    assert.deepEqual(await loopsUnder(ownedDir), []);
    assert.deepEqual(await readdir(ownedDir), ['config.json'], "only the caller's own file is left");
  });

  test('a full disk gives ENOSPC inside the capsule, the host is unaffected, and deletes still work', async (t) => {
    const rootfs = await withRootfs(t, 64 * MiB);
    const hostBefore = await statfs(dataDir);
    const fill = join(rootfs.mergedDir, 'tmp/fill');

    // The rootfs has no /dev/zero (no /dev at all until a runtime mounts one): zeros come on stdin.
    const zeros = Buffer.alloc(2 * rootfs.sizeBytes);
    const asRoot = await asCapsuleRoot(rootfs.mergedDir, ['dd', 'of=/tmp/fill', 'bs=1M'], zeros);
    assert.notEqual(asRoot.code, 0, 'dd stops with an error');
    assert.match(asRoot.stderr, /No space left on device/);
    const filled = await stat(fill);
    assert.ok(filled.size > 40 * MiB && filled.size <= rootfs.sizeBytes, `filled ${filled.size} bytes`);
    // Host root has no reserved blocks to fall back on either (-m 0): the limit is the same.
    const asHostRoot = await run('dd', ['if=/dev/zero', `of=${join(rootfs.mergedDir, 'tmp/more')}`, 'bs=1M', 'count=8'], { allowFailure: true });
    assert.match(asHostRoot.stderr, /No space left on device/);

    const image = await stat(rootfs.imagePath);
    assert.ok(image.blocks * 512 <= rootfs.sizeBytes, 'the image never grows past its size');
    const hostAfter = await statfs(dataDir);
    const hostUsedBytes = (hostBefore.bavail - hostAfter.bavail) * hostAfter.bsize;
    assert.ok(hostUsedBytes <= rootfs.sizeBytes + 8 * MiB, `host lost ${hostUsedBytes} bytes`);
    await writeFile(join(dataDir, `host-write-${process.pid}`), Buffer.alloc(MiB));

    const rm = await asCapsuleRoot(rootfs.mergedDir, ['rm', '-f', '/tmp/fill', '/tmp/more']);
    assert.equal(rm.code, 0, rm.stderr);
    assert.equal(existsSync(fill), false);
    const write = await asCapsuleRoot(rootfs.mergedDir, ['dd', 'of=/tmp/after', 'bs=1M', 'count=4'], Buffer.alloc(4 * MiB));
    assert.equal(write.code, 0, write.stderr);
    assert.ok(existsSync(join(rootfs.mergedDir, 'bin/busybox')));
    assert.ok((await rootfs.diskUsage()).usedBytes < 32 * MiB);
  });

  test('remove unmounts, detaches and deletes, and is idempotent', async () => {
    const capsuleDir = newCapsuleDir();
    await createCapsuleRootfs({ capsuleDir, template, diskSizeBytes: 128 * MiB, idMapping, logger });
    await removeCapsuleRootfs(capsuleDir);
    assert.deepEqual(await mountsUnder(capsuleDir), []);
    assert.deepEqual(await loopsUnder(capsuleDir), []);
    assert.deepEqual(await readdir(capsuleDir), []);
    await removeCapsuleRootfs(capsuleDir);
    await removeTreeSafely(capsuleDir);
  });

  test('leftover cleanup releases the mounts and loop devices of a crashed run and keeps known capsules', async (t) => {
    const known = await withRootfs(t);

    // A real crash: another process creates a capsule rootfs and is killed with it mounted.
    const crashedDir = newCapsuleDir();
    t.after(() => removeCapsuleRootfs(crashedDir));
    const rootfsModule = join(repo, 'packages/host-agent/src/infra/rootfs/index.ts');
    const script = `
      import { createCapsuleRootfs } from ${JSON.stringify(rootfsModule)};
      await createCapsuleRootfs({ capsuleDir: ${JSON.stringify(crashedDir)}, template: ${JSON.stringify(template)}, diskSizeBytes: ${128 * MiB}, idMapping: ${JSON.stringify(idMapping)} });
      process.kill(process.pid, 'SIGKILL');
    `;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: join(repo, 'packages/host-agent'), stdio: 'inherit' });
    const signal = await new Promise<NodeJS.Signals | null>((res) => child.on('close', (_code, sig) => res(sig)));
    assert.equal(signal, 'SIGKILL');
    assert.equal((await mountsUnder(crashedDir)).length, 2, 'the crashed run left its overlay and image mounted');

    // A crash between attaching the loop device and mounting it.
    const loopOnlyDir = newCapsuleDir();
    t.after(() => removeCapsuleRootfs(loopOnlyDir));
    await mkdir(loopOnlyDir, { recursive: true });
    await createSparseFile(join(loopOnlyDir, 'upper.ext4'), 8 * MiB);
    const strayLoop = await attachLoop(join(loopOnlyDir, 'upper.ext4'));

    const leftovers = await findLeftoverMounts(dataDir, { knownCapsuleDirs: [known.capsuleDir] });
    const byDir = new Map(leftovers.map((l) => [l.capsuleDir, l]));
    assert.deepEqual([...byDir.keys()].sort(), [crashedDir, loopOnlyDir].sort());
    assert.deepEqual(byDir.get(crashedDir)?.mounts, [join(crashedDir, 'rootfs'), join(crashedDir, 'upper-mnt')]);
    assert.equal(byDir.get(crashedDir)?.loopDevices.length, 1);
    assert.deepEqual(byDir.get(loopOnlyDir), { capsuleDir: loopOnlyDir, mounts: [], loopDevices: [strayLoop] });

    const released = await releaseAllLeftoverRootfs(dataDir, { knownCapsuleDirs: [known.capsuleDir], logger });
    assert.equal(released.length, 2);
    assert.deepEqual(await findLeftoverMounts(dataDir, { knownCapsuleDirs: [known.capsuleDir] }), []);
    for (const dir of [crashedDir, loopOnlyDir]) {
      assert.deepEqual(await mountsUnder(dir), []);
      assert.deepEqual(await loopsUnder(dir), []);
    }
    assert.equal((await mountsUnder(known.capsuleDir)).length, 2, 'the known capsule stays mounted');
    assert.ok(existsSync(join(known.mergedDir, 'bin/busybox')));

    // The crashed capsule's image can be mounted again (or deleted) afterwards.
    const remounted = await mountExistingCapsuleRootfs({ capsuleDir: crashedDir, template, logger });
    assert.ok(existsSync(join(remounted.mergedDir, 'bin/busybox')));
    await remounted.unmount();
  });

  test('create + unmount timing (p50 over 10)', async (t) => {
    const createMs: number[] = [];
    const unmountMs: number[] = [];
    for (let i = 0; i < 10; i += 1) {
      const capsuleDir = newCapsuleDir();
      try {
        let startedAt = performance.now();
        const rootfs = await createCapsuleRootfs({ capsuleDir, template, diskSizeBytes: 10 * 1024 * MiB, idMapping });
        createMs.push(performance.now() - startedAt);
        assert.ok(existsSync(join(rootfs.mergedDir, 'bin/busybox')));
        startedAt = performance.now();
        await rootfs.unmount();
        unmountMs.push(performance.now() - startedAt);
      } finally {
        await removeCapsuleRootfs(capsuleDir);
        await removeTreeSafely(capsuleDir);
      }
    }
    const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    t.diagnostic(`10 GiB capsule rootfs: create (sparse file + mkfs.ext4 + losetup + mount ext4 + mount overlay) p50 ${p50(createMs).toFixed(1)} ms, max ${Math.max(...createMs).toFixed(1)} ms; unmount p50 ${p50(unmountMs).toFixed(1)} ms`);
    assert.ok(p50(createMs) < 1000, `create p50 ${p50(createMs)} ms`);
  });
});

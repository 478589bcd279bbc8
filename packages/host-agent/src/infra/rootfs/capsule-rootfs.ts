/**
 * A capsule's root filesystem: the template's shifted tree as read-only overlay lower, and
 * a writable upper layer inside a per-capsule sparse ext4 image (loop device), so the
 * capsule's disk is limited to the image size and filling it gives ENOSPC inside the capsule
 * only (docs/decisions.md#h6).
 *
 *   <capsuleDir>/upper.ext4          sparse image, max(disk size, template + headroom)
 *   <capsuleDir>/upper-mnt/          the image, mounted (upper/ and work/ inside)
 *   <capsuleDir>/rootfs/             overlay(lower=template, upper, work): the capsule's root
 *
 * Every step registers its release before the next step runs; if any step fails, what was
 * done so far is undone in reverse order, so a failed create leaves no mount, no loop
 * device and no file behind.
 */
import { chmod, chown, mkdir, realpath, rmdir, stat, statfs } from 'node:fs/promises';
import { DisposableStack, WrennError, type Logger } from '@wrenn/shared';
import type { IdMapping } from '../runtime/runtime.js';
import type { CapsuleRootfs, TemplateInfo } from './layers.js';
import { capsuleRootfsPaths, type CapsuleRootfsPaths } from './paths.js';
import { checkExt4, createSparseFile, formatExt4, isCleanExt4, upperImageSizeBytes } from './ext4-image.js';
import { attachLoop, detachLoopsBackedBy, listLoops } from './loop.js';
import { mountExt4, mountExt4Image, mountOverlay, unmountAll, unmountIfMounted } from './mount.js';
import { readMountInfo } from './mountinfo.js';
import { removeTreeSafely } from './remove-tree.js';

export interface CreateCapsuleRootfsOptions {
  capsuleDir: string;
  template: Pick<TemplateInfo, 'name' | 'lowerDir' | 'sizeBytes'>;
  /** Requested disk size; the image is never smaller than the template needs (docs/decisions.md#h6). */
  diskSizeBytes: number;
  idMapping: IdMapping;
  signal?: AbortSignal;
  logger?: Logger;
}

export interface MountExistingCapsuleRootfsOptions {
  capsuleDir: string;
  template: Pick<TemplateInfo, 'name' | 'lowerDir'>;
  signal?: AbortSignal;
  logger?: Logger;
}

class MountedCapsuleRootfs implements CapsuleRootfs {
  constructor(
    private readonly paths: CapsuleRootfsPaths,
    readonly loopDevice: string,
    readonly sizeBytes: number,
  ) {}

  get mergedDir(): string {
    return this.paths.mergedDir;
  }

  get imagePath(): string {
    return this.paths.imagePath;
  }

  async unmount(): Promise<void> {
    await unmountIfMounted(this.paths.mergedDir);
    await unmountIfMounted(this.paths.upperMountDir);
    // By backing file, not by name: a second unmount must not detach a device that
    // another capsule has been given since.
    await detachLoopsBackedBy(this.paths.imagePath);
  }

  diskUsage(): Promise<{ usedBytes: number; totalBytes: number }> {
    return capsuleDiskUsage(this.paths.capsuleDir);
  }
}

/** Used and total bytes of a mounted capsule's writable layer (statfs of the image mount). */
export async function capsuleDiskUsage(capsuleDir: string): Promise<{ usedBytes: number; totalBytes: number }> {
  const fs = await statfs(capsuleRootfsPaths(capsuleDir).upperMountDir);
  return { usedBytes: (fs.blocks - fs.bfree) * fs.bsize, totalBytes: fs.blocks * fs.bsize };
}

export async function createCapsuleRootfs(opts: CreateCapsuleRootfsOptions): Promise<CapsuleRootfs> {
  const startedAt = performance.now();
  const { idMapping, signal } = opts;
  const sizeBytes = upperImageSizeBytes(opts.diskSizeBytes, opts.template.sizeBytes);
  const stack = new DisposableStack();
  try {
    const createdDir = await mkdir(opts.capsuleDir, { recursive: true });
    if (createdDir) stack.defer(() => removeTreeSafely(createdDir));
    const paths = capsuleRootfsPaths(await realpath(opts.capsuleDir));

    await createSparseFile(paths.imagePath, sizeBytes).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'EEXIST') throw new WrennError('already_exists', `${paths.imagePath} already exists: the capsule's disk was created before`);
      throw err;
    });
    stack.defer(() => removeTreeSafely(paths.imagePath));
    throwIfAborted(signal);
    await formatExt4(paths.imagePath, sizeBytes, idMapping, signal);

    // Releases are registered before each step: a tool killed after the kernel did its
    // part (device attached, filesystem mounted) but before it reported back is covered too.
    await mkdirUndoable(stack, paths.upperMountDir);
    stack.defer(() => detachLoopsBackedBy(paths.imagePath));
    const loopDevice = await attachLoop(paths.imagePath, signal);
    stack.defer(() => unmountIfMounted(paths.upperMountDir));
    await mountExt4(loopDevice, paths.upperMountDir, signal);

    await prepareUpperLayer(paths, opts.template.lowerDir, idMapping);
    await mkdirUndoable(stack, paths.mergedDir);
    throwIfAborted(signal);
    stack.defer(() => unmountIfMounted(paths.mergedDir));
    await mountOverlay({ lowerDir: opts.template.lowerDir, upperDir: paths.upperDir, workDir: paths.workDir }, paths.mergedDir, signal);

    opts.logger?.info(
      { capsuleDir: paths.capsuleDir, template: opts.template.name, loopDevice, sizeBytes, durationMs: Math.round(performance.now() - startedAt) },
      'capsule rootfs created',
    );
    return new MountedCapsuleRootfs(paths, loopDevice, sizeBytes);
  } catch (err) {
    await stack.dispose().catch((releaseErr: unknown) =>
      opts.logger?.error({ err: releaseErr, capsuleDir: opts.capsuleDir }, 'releasing a half-created capsule rootfs failed'),
    );
    throw err;
  }
}

/**
 * Mounts the rootfs of a capsule whose image already exists (resume, agent restart). Parts
 * that are still mounted (the agent restarted, the kernel kept the mounts) are adopted.
 */
export async function mountExistingCapsuleRootfs(opts: MountExistingCapsuleRootfsOptions): Promise<CapsuleRootfs> {
  const startedAt = performance.now();
  const { signal } = opts;
  const paths = capsuleRootfsPaths(await realpath(opts.capsuleDir).catch(() => opts.capsuleDir));
  const image = await stat(paths.imagePath).catch(() => undefined);
  if (!image) throw new WrennError('file_not_found', `capsule directory ${paths.capsuleDir} has no disk image ${paths.imagePath}`);

  const mounts = await readMountInfo();
  const mountedAt = (dir: string) => mounts.filter((m) => m.mountPoint === dir).at(-1);
  const stack = new DisposableStack();
  try {
    const upper = mountedAt(paths.upperMountDir);
    let loopDevice = upper?.source;
    if (!upper) {
      const attached = (await listLoops(signal)).find((l) => l.backingFile === paths.imagePath && !l.backingFileDeleted);
      stack.defer(() => detachLoopsBackedBy(paths.imagePath));
      await mkdir(paths.upperMountDir, { recursive: true });
      stack.defer(() => unmountIfMounted(paths.upperMountDir));
      if (attached) {
        loopDevice = attached.name;
        await mountExt4(loopDevice, paths.upperMountDir, signal);
      } else {
        // A cleanly unmounted image (every pause leaves one) needs no check.
        if (!(await isCleanExt4(paths.imagePath))) await checkExt4(paths.imagePath, signal);
        loopDevice = await mountExt4Image(paths.imagePath, paths.upperMountDir, signal);
      }
    }
    if (!loopDevice?.startsWith('/dev/loop')) {
      throw new WrennError('internal', `${paths.upperMountDir} is mounted from ${loopDevice ?? 'nothing'}, not from a loop device`);
    }
    if (!mountedAt(paths.mergedDir)) {
      await mkdir(paths.mergedDir, { recursive: true });
      stack.defer(() => unmountIfMounted(paths.mergedDir));
      await mountOverlay({ lowerDir: opts.template.lowerDir, upperDir: paths.upperDir, workDir: paths.workDir }, paths.mergedDir, signal);
    }
    opts.logger?.info(
      { capsuleDir: paths.capsuleDir, template: opts.template.name, loopDevice, adopted: Boolean(upper), durationMs: Math.round(performance.now() - startedAt) },
      'capsule rootfs mounted from its existing image',
    );
    return new MountedCapsuleRootfs(paths, loopDevice, image.size);
  } catch (err) {
    await stack.dispose().catch((releaseErr: unknown) =>
      opts.logger?.error({ err: releaseErr, capsuleDir: paths.capsuleDir }, 'releasing a half-mounted capsule rootfs failed'),
    );
    throw err;
  }
}

/**
 * Destroys a capsule's rootfs: unmounts it if mounted (lazily if still busy), detaches every
 * loop device on its image, deletes the image and the mount directories. Idempotent.
 */
export async function removeCapsuleRootfs(capsuleDir: string, opts: { signal?: AbortSignal; logger?: Logger } = {}): Promise<void> {
  const paths = capsuleRootfsPaths(await realpath(capsuleDir).catch(() => capsuleDir));
  await releaseRootfsMounts(paths, opts);
  await detachLoopsBackedBy(paths.imagePath, opts.signal);
  await removeTreeSafely(paths.mergedDir);
  await removeTreeSafely(paths.upperMountDir);
  await removeTreeSafely(paths.imagePath);
}

/** Unmounts a capsule's rootfs and detaches its loop device, keeping the disk image (pause). Idempotent. */
export async function unmountCapsuleRootfs(capsuleDir: string, logger?: Logger): Promise<void> {
  const paths = capsuleRootfsPaths(await realpath(capsuleDir).catch(() => capsuleDir));
  await releaseRootfsMounts(paths, { ...(logger ? { logger } : {}) });
  await detachLoopsBackedBy(paths.imagePath);
}

/** Unmounts merged then upper; a busy mount is detached lazily. */
export async function releaseRootfsMounts(paths: CapsuleRootfsPaths, opts: { signal?: AbortSignal; logger?: Logger } = {}): Promise<void> {
  for (const dir of [paths.mergedDir, paths.upperMountDir]) {
    await unmountAll(dir, { signal: opts.signal, onBusy: (err) => opts.logger?.warn({ err, dir }, 'mount is busy; detaching it lazily') });
  }
}

/**
 * The overlay's root directory takes its owner and mode from the upper dir: give it the
 * template root's (already shifted), so / in the capsule looks like the template's /.
 */
async function prepareUpperLayer(paths: CapsuleRootfsPaths, lowerDir: string, idMapping: IdMapping): Promise<void> {
  const lowerRoot = await stat(lowerDir).catch((err: NodeJS.ErrnoException) => {
    throw new WrennError('failed_precondition', `template layer ${lowerDir} is not readable (${err.code ?? err.message}): rebuild the template`, {
      lowerDir,
    });
  });
  if (!lowerRoot.isDirectory()) throw new WrennError('failed_precondition', `template layer ${lowerDir} is not a directory`, { lowerDir });
  await mkdir(paths.upperDir);
  await chown(paths.upperDir, lowerRoot.uid, lowerRoot.gid);
  await chmod(paths.upperDir, lowerRoot.mode & 0o7777);
  await mkdir(paths.workDir, { mode: 0o700 });
  await chown(paths.workDir, idMapping.hostBase, idMapping.hostBase);
}

async function mkdirUndoable(stack: DisposableStack, dir: string): Promise<void> {
  await mkdir(dir, { mode: 0o755 });
  stack.defer(() => rmdir(dir).catch((err: NodeJS.ErrnoException) => (err.code === 'ENOENT' ? undefined : Promise.reject(err))));
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw new WrennError('canceled', 'creating the capsule rootfs was cancelled');
}

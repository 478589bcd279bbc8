/**
 * Capsule rootfs resources that outlived their owner: an agent that crashed or was killed
 * leaves its capsules' overlays, ext4 mounts and loop devices in the kernel. A restarted
 * agent lists what is under its data dir (by the file names in ./paths.ts), keeps what
 * belongs to capsules it still knows and releases the rest.
 */
import { basename, dirname, resolve } from 'node:path';
import { realpath } from 'node:fs/promises';
import type { Logger } from '@wrenn/shared';
import { IMAGE_FILE, MERGED_DIR, UPPER_MOUNT_DIR, capsuleRootfsPaths } from './paths.js';
import { readMountInfo } from './mountinfo.js';
import { detachLoopsBackedBy, listLoops } from './loop.js';
import { releaseRootfsMounts } from './capsule-rootfs.js';

export interface LeftoverRootfs {
  capsuleDir: string;
  /** Mount points (merged overlay and/or the image mount), most recent first. */
  mounts: string[];
  /** Loop devices whose backing file is the capsule's image. */
  loopDevices: string[];
}

export interface FindLeftoversOptions {
  /** Capsule directories that are still in use: their resources are not reported. */
  knownCapsuleDirs?: Iterable<string>;
  signal?: AbortSignal;
}

/** Capsule rootfs mounts and loop devices under `dataDir` that no known capsule owns. */
export async function findLeftoverMounts(dataDir: string, opts: FindLeftoversOptions = {}): Promise<LeftoverRootfs[]> {
  const root = await realpath(dataDir).catch(() => resolve(dataDir));
  const known = new Set<string>();
  for (const dir of opts.knownCapsuleDirs ?? []) known.add(await realpath(dir).catch(() => resolve(dir)));
  const byDir = new Map<string, LeftoverRootfs>();
  const entryFor = (capsuleDir: string) => {
    let entry = byDir.get(capsuleDir);
    if (!entry) byDir.set(capsuleDir, (entry = { capsuleDir, mounts: [], loopDevices: [] }));
    return entry;
  };
  const isCandidate = (capsuleDir: string) => capsuleDir.startsWith(`${root}/`) && !known.has(capsuleDir);

  for (const mount of (await readMountInfo()).reverse()) {
    const name = basename(mount.mountPoint);
    if (name !== MERGED_DIR && name !== UPPER_MOUNT_DIR) continue;
    if (name === MERGED_DIR && mount.fsType !== 'overlay') continue;
    if (name === UPPER_MOUNT_DIR && mount.fsType !== 'ext4') continue;
    const capsuleDir = dirname(mount.mountPoint);
    if (isCandidate(capsuleDir)) entryFor(capsuleDir).mounts.push(mount.mountPoint);
  }
  for (const loop of await listLoops(opts.signal)) {
    if (basename(loop.backingFile) !== IMAGE_FILE) continue;
    const capsuleDir = dirname(loop.backingFile);
    if (isCandidate(capsuleDir)) entryFor(capsuleDir).loopDevices.push(loop.name);
  }
  return [...byDir.values()];
}

/** Unmounts (lazily if busy) and detaches what `findLeftoverMounts` reported. Files are kept. */
export async function releaseLeftoverRootfs(leftover: LeftoverRootfs, opts: { signal?: AbortSignal; logger?: Logger } = {}): Promise<void> {
  const paths = capsuleRootfsPaths(leftover.capsuleDir);
  await releaseRootfsMounts(paths, opts);
  // By backing file: also catches a device attached after the listing was taken, and never
  // detaches a device name that has been reused for another image since.
  await detachLoopsBackedBy(paths.imagePath, opts.signal);
  opts.logger?.info({ capsuleDir: leftover.capsuleDir, mounts: leftover.mounts, loopDevices: leftover.loopDevices }, 'released leftover capsule rootfs');
}

/** Finds and releases every leftover under `dataDir`; returns what was released. */
export async function releaseAllLeftoverRootfs(
  dataDir: string,
  opts: FindLeftoversOptions & { logger?: Logger } = {},
): Promise<LeftoverRootfs[]> {
  const leftovers = await findLeftoverMounts(dataDir, opts);
  for (const leftover of leftovers) await releaseLeftoverRootfs(leftover, opts);
  return leftovers;
}

/**
 * Copies of a capsule's disk (its sparse ext4 image) for snapshot templates: taken from a
 * running capsule while its filesystem is frozen, and handed to each new capsule made from
 * the template. Copies stay sparse: only blocks the capsule wrote take space.
 *
 * A frozen ext4 (FIFREEZE, `fsfreeze -f`) has flushed its data and checkpointed its
 * journal, so the image file is consistent and needs no journal replay or fsck when a copy
 * of it is mounted. While frozen, every write to it blocks: keep the window short and
 * always thaw (a frozen filesystem outlives the agent).
 */
import { stat } from 'node:fs/promises';
import { WrennError } from '@wrenn/shared';
import { run } from '../exec.js';
import { readMountInfo } from './mountinfo.js';
import { capsuleRootfsPaths } from './paths.js';

/** Deadline of the thaw: it runs on every path, also when the caller's signal aborted. */
const THAW_TIMEOUT_MS = 30_000;

/** Blocks writes to the filesystem mounted at `mountDir` and makes its image consistent. */
export async function freezeFilesystem(mountDir: string, signal?: AbortSignal): Promise<void> {
  await run('fsfreeze', ['--freeze', mountDir], { signal });
}

/** Lets writes through again. Idempotent: a filesystem that is not frozen is fine. */
export async function thawFilesystem(mountDir: string): Promise<void> {
  const result = await run('fsfreeze', ['--unfreeze', mountDir], { timeoutMs: THAW_TIMEOUT_MS, allowFailure: true });
  if (result.code === 0 || /Invalid argument/.test(result.stderr)) return;
  throw new WrennError('internal', `thawing the filesystem at ${mountDir} failed: ${result.stderr.trim()}`, { mountDir });
}

/** Copies `src` to `dst` (which must not exist), keeping holes and making zero blocks holes. */
export async function copySparseImage(src: string, dst: string, signal?: AbortSignal): Promise<void> {
  if (await stat(dst).then(() => true, () => false)) {
    throw new WrennError('already_exists', `${dst} already exists: refusing to overwrite a disk image`, { path: dst });
  }
  await run('cp', ['--sparse=always', '--no-target-directory', '--', src, dst], { signal });
}

/** Bytes a (sparse) file really occupies. */
export async function allocatedBytes(path: string): Promise<number> {
  const st = await stat(path);
  return st.blocks * 512;
}

/**
 * Copies the disk of a running capsule to `dst` while its filesystem is frozen. The caller
 * stops the capsule's processes first (cgroup freezer), so the copy matches their memory.
 */
export async function copyMountedCapsuleDisk(capsuleDir: string, dst: string, signal?: AbortSignal): Promise<void> {
  const paths = capsuleRootfsPaths(capsuleDir);
  await freezeFilesystem(paths.upperMountDir, signal);
  try {
    await copySparseImage(paths.imagePath, dst, signal);
  } finally {
    await thawFilesystem(paths.upperMountDir);
  }
}

/** Thaws a capsule's disk if it is mounted (recovery after an agent stopped mid-copy). Idempotent. */
export async function thawCapsuleDisk(capsuleDir: string): Promise<void> {
  const { upperMountDir } = capsuleRootfsPaths(capsuleDir);
  if ((await readMountInfo()).some((m) => m.mountPoint === upperMountDir)) await thawFilesystem(upperMountDir);
}

/** Makes a copy of `srcImage` the disk of the capsule in `capsuleDir` (not mounted yet). */
export async function adoptCapsuleDisk(srcImage: string, capsuleDir: string, signal?: AbortSignal): Promise<void> {
  await copySparseImage(srcImage, capsuleRootfsPaths(capsuleDir).imagePath, signal);
}

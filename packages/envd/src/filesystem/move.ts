/**
 * Moving a path the way rename(2) does, also across filesystems: rename() fails with
 * EXDEV there, so the tree is copied (keeping owners, modes, timestamps, symlinks and
 * user xattrs) and the source removed afterwards.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { WrennError, fromSystemError } from '@wrenn/shared';
import { readUserXattrs, writeUserXattrs } from './xattr.js';

/** Moves `source` to `destination` with rename(2) semantics (replaces a file or an empty directory). */
export async function movePath(source: string, destination: string): Promise<void> {
  try {
    await fsp.rename(source, destination);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EXDEV') return moveAcrossDevices(source, destination);
    // These are about what is already at the destination.
    const aboutDestination = code === 'ENOTEMPTY' || code === 'EEXIST' || code === 'EISDIR' || code === 'ENOTDIR';
    throw fromSystemError(err, aboutDestination ? destination : source);
  }
}

/** Copy-then-remove fallback of `movePath` for two different filesystems. */
export async function moveAcrossDevices(source: string, destination: string): Promise<void> {
  const src = await fsp.lstat(source).catch((err) => {
    throw fromSystemError(err, source);
  });
  await clearDestination(src, destination);
  try {
    await fsp.cp(source, destination, {
      recursive: true,
      verbatimSymlinks: true,
      preserveTimestamps: true,
      errorOnExist: true,
      force: false,
    });
    await copyOwnershipAndAttributes(source, destination, src);
  } catch (err) {
    // Leave no half-copied tree behind: the source is still intact.
    await fsp.rm(destination, { recursive: true, force: true }).catch(() => {});
    throw fromSystemError(err, destination);
  }
  await fsp.rm(source, { recursive: true, force: true });
}

/** What rename(2) would replace at the destination, and the errors it would give. */
async function clearDestination(src: Stats, destination: string): Promise<void> {
  const dst = await fsp.lstat(destination).catch(() => undefined);
  if (!dst) return;
  if (src.isDirectory() && !dst.isDirectory()) {
    throw new WrennError('not_a_directory', `cannot move a directory over the non-directory ${JSON.stringify(destination)}`, {
      path: destination,
    });
  }
  if (!src.isDirectory() && dst.isDirectory()) {
    throw new WrennError('is_a_directory', `cannot move a file over the directory ${JSON.stringify(destination)}`, { path: destination });
  }
  try {
    if (dst.isDirectory()) await fsp.rmdir(destination);
    else await fsp.unlink(destination);
  } catch (err) {
    throw fromSystemError(err, destination);
  }
}

/** fs.cp writes as root: give every copied entry its source's owner, mode and user xattrs. */
async function copyOwnershipAndAttributes(source: string, destination: string, st: Stats): Promise<void> {
  await fsp.lchown(destination, st.uid, st.gid);
  if (st.isSymbolicLink()) return;
  // chown clears setuid/setgid, so the mode is restored after it.
  await fsp.chmod(destination, st.mode & 0o7777);
  const xattrs = await readUserXattrs(source);
  if (Object.keys(xattrs).length > 0) await writeUserXattrs(destination, xattrs);
  if (!st.isDirectory()) return;
  for (const name of await fsp.readdir(source)) {
    const child = await fsp.lstat(posix.join(source, name));
    await copyOwnershipAndAttributes(posix.join(source, name), posix.join(destination, name), child);
  }
  // Timestamps of a directory change while its children are created; set them last.
  await fsp.utimes(destination, st.atime, st.mtime);
}

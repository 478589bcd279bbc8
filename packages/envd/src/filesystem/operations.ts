/**
 * The metadata operations of the filesystem service, on absolute paths, for a user:
 * each checks the user's permissions first (envd itself runs as root).
 */
import { promises as fsp } from 'node:fs';
import { posix } from 'node:path';
import type { EntryInfo } from '@wrenn/proto/filesystem';
import { WrennError, fromSystemError } from '@wrenn/shared';
import type { EnvdContext } from '../core/context.js';
import { ensureAccess } from '../core/permissions.js';
import type { UserInfo } from '../core/users.js';
import { ensureCanCreatePath, ensureCanRemovePath, ensureCanRemoveTree, ensureCanStat, ensureCanWriteInto } from './access.js';
import { entryInfo } from './entry-info.js';
import { movePath } from './move.js';

type Ctx = Pick<EnvdContext, 'users'>;

export async function statPath(path: string, user: UserInfo, ctx: Ctx): Promise<EntryInfo> {
  await ensureCanStat(path, user);
  return entryInfo(path, ctx);
}

/**
 * Creates `path` and its missing parents, each mode 0755 and owned by `user`.
 * An existing path is `already_exists`.
 */
export async function makeDir(path: string, user: UserInfo, ctx: Ctx): Promise<EntryInfo> {
  if (await exists(path)) {
    // Only a user who could see the path learns that it exists.
    await ensureCanStat(path, user);
    throw new WrennError('already_exists', `path ${JSON.stringify(path)} already exists`, { path });
  }
  await ensureCanCreatePath(path, user);
  const missing: string[] = [];
  for (let dir = path; ; dir = posix.dirname(dir)) {
    if (await exists(dir)) break;
    missing.unshift(dir);
    if (dir === '/') break;
  }
  for (const dir of missing) {
    try {
      await fsp.mkdir(dir);
    } catch (err) {
      // A parent created concurrently by someone else is fine; the requested path is not.
      if ((err as NodeJS.ErrnoException).code === 'EEXIST' && dir !== path) continue;
      throw fromSystemError(err, dir);
    }
    // chmod: the mode must not depend on envd's umask.
    await fsp.chmod(dir, 0o755);
    await fsp.chown(dir, user.uid, user.gid);
  }
  return entryInfo(path, ctx);
}

/**
 * Moves `source` to `destination` (rename semantics, also across filesystems). The
 * destination's parent must exist. Returns the moved entry.
 */
export async function movePathFor(source: string, destination: string, user: UserInfo, ctx: Ctx): Promise<EntryInfo> {
  if (source === '/') throw new WrennError('invalid_argument', 'cannot move the root directory', { path: source });
  await ensureCanRemovePath(source, user);
  const srcSt = await fsp.lstat(source).catch((err) => {
    throw fromSystemError(err, source);
  });
  const parent = posix.dirname(destination);
  const parentSt = await fsp.stat(parent).catch((err) => {
    throw fromSystemError(err, parent);
  });
  if (!parentSt.isDirectory()) {
    throw new WrennError('not_a_directory', `destination parent ${JSON.stringify(parent)} is not a directory`, { path: destination });
  }
  await ensureCanWriteInto(parent, destination, user);
  // Replacing an existing destination removes it, with the same rules as removing.
  if (await exists(destination)) await ensureCanRemovePath(destination, user);
  if (user.uid !== 0 && srcSt.isDirectory() && posix.dirname(source) !== parent) {
    // A directory changing parent gets its ".." rewritten: it must be writable itself.
    await ensureAccess(source, user, 'w').catch((err) => {
      throw err instanceof WrennError && err.code === 'permission_denied'
        ? new WrennError('permission_denied', `permission denied: user ${JSON.stringify(user.name)} cannot move ${JSON.stringify(source)}`, {
            path: source,
          })
        : err;
    });
  }
  await movePath(source, destination);
  return entryInfo(destination, ctx);
}

/** Removes a file, symlink or directory tree. A missing path is `file_not_found`. */
export async function removePath(path: string, user: UserInfo): Promise<void> {
  if (path === '/') throw new WrennError('invalid_argument', 'refusing to remove the root directory', { path });
  await ensureCanRemoveTree(path, user);
  try {
    await fsp.rm(path, { recursive: true, force: false });
  } catch (err) {
    throw fromSystemError(err, path);
  }
}

function exists(path: string): Promise<boolean> {
  return fsp.lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * Access checks on behalf of the acting user. envd runs as root, so the kernel does not
 * refuse anything on its own: every file operation asks here first, with POSIX rules
 * (owner/group/other bits, root bypass except execute without any x bit).
 */
import { promises as fsp, constants as fsc, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { WrennError, fromSystemError } from '@wrenn/shared';
import type { UserInfo } from './users.js';

export type Access = 'r' | 'w' | 'x';

const BITS: Record<Access, [number, number, number]> = {
  r: [fsc.S_IRUSR, fsc.S_IRGRP, fsc.S_IROTH],
  w: [fsc.S_IWUSR, fsc.S_IWGRP, fsc.S_IWOTH],
  x: [fsc.S_IXUSR, fsc.S_IXGRP, fsc.S_IXOTH],
};

export function allows(st: Pick<Stats, 'mode' | 'uid' | 'gid'>, user: UserInfo, access: Access): boolean {
  if (user.uid === 0) return access !== 'x' || (st.mode & 0o111) !== 0 || (st.mode & fsc.S_IFMT) === fsc.S_IFDIR;
  const [u, g, o] = BITS[access];
  if (st.uid === user.uid) return (st.mode & u) !== 0;
  if (user.groups.includes(st.gid)) return (st.mode & g) !== 0;
  return (st.mode & o) !== 0;
}

function denied(path: string, what: string): WrennError {
  return new WrennError('permission_denied', `permission denied: user cannot ${what} ${JSON.stringify(path)}`, { path });
}

/** Every ancestor directory of `path` must be searchable (x) by the user. */
async function ensureTraversable(path: string, user: UserInfo): Promise<void> {
  if (user.uid === 0) return;
  let dir = posix.dirname(path);
  const chain: string[] = [];
  while (true) {
    chain.unshift(dir);
    if (dir === '/') break;
    dir = posix.dirname(dir);
  }
  for (const d of chain) {
    let st: Stats;
    try {
      st = await fsp.stat(d);
    } catch (err) {
      throw fromSystemError(err, path);
    }
    if (!allows(st, user, 'x')) throw denied(path, 'traverse to');
  }
}

/** Throws `permission_denied` (with the path) unless `user` has `access` on existing `path`. */
export async function ensureAccess(path: string, user: UserInfo, access: Access): Promise<Stats> {
  await ensureTraversable(path, user);
  let st: Stats;
  try {
    st = await fsp.stat(path);
  } catch (err) {
    throw fromSystemError(err, path);
  }
  if (!allows(st, user, access)) throw denied(path, access === 'r' ? 'read' : access === 'w' ? 'write' : 'execute');
  return st;
}

/**
 * Checks that `user` may create or replace `path`: the nearest existing ancestor must be
 * writable and searchable, and an existing `path` itself must be writable (files).
 */
export async function ensureCanCreate(path: string, user: UserInfo): Promise<void> {
  if (user.uid === 0) return;
  const existing = await fsp.lstat(path).catch(() => undefined);
  if (existing && !existing.isDirectory()) {
    await ensureAccess(path, user, 'w');
    return;
  }
  let dir = existing ? path : posix.dirname(path);
  while (true) {
    const st = await fsp.stat(dir).catch(() => undefined);
    if (st) {
      if (!st.isDirectory()) {
        throw new WrennError('not_a_directory', `${JSON.stringify(dir)} is not a directory`, { path });
      }
      await ensureTraversable(posix.join(dir, 'x'), user);
      if (!allows(st, user, 'w') || !allows(st, user, 'x')) throw denied(path, 'create');
      return;
    }
    if (dir === '/') return;
    dir = posix.dirname(dir);
  }
}

/** Removing or renaming `path` needs write+search on its parent directory (and the sticky-bit rule). */
export async function ensureCanRemove(path: string, user: UserInfo): Promise<void> {
  if (user.uid === 0) return;
  const target = await fsp.lstat(path).catch((err) => {
    throw fromSystemError(err, path);
  });
  const parent = posix.dirname(path);
  const st = await ensureAccess(parent, user, 'w');
  if (!allows(st, user, 'x')) throw denied(path, 'remove');
  // In a sticky directory (/tmp) only the entry's owner or the directory's owner may remove it.
  if ((st.mode & 0o1000 /* S_ISVTX */) !== 0 && target.uid !== user.uid && st.uid !== user.uid) throw denied(path, 'remove');
}

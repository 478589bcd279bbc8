/**
 * Permission checks of the filesystem service, built on core/permissions: envd runs as
 * root, so each operation first asks whether the acting user could do it, and refuses
 * with `permission_denied` naming the path the client asked for.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { WrennError, fromSystemError } from '@wrenn/shared';
import { allows, ensureAccess, ensureCanCreate, ensureCanRemove } from '../core/permissions.js';
import type { UserInfo } from '../core/users.js';

function denied(path: string, user: UserInfo, what: string): WrennError {
  return new WrennError('permission_denied', `permission denied: user ${JSON.stringify(user.name)} cannot ${what} ${JSON.stringify(path)}`, {
    path,
  });
}

/** Re-words a permission error about an ancestor so that it names `path` itself. */
function namingPath(err: unknown, path: string, user: UserInfo, what: string): unknown {
  return err instanceof WrennError && err.code === 'permission_denied' ? denied(path, user, what) : err;
}

/** Stat needs only search (x) permission on every directory leading to `path`. */
export async function ensureCanStat(path: string, user: UserInfo): Promise<void> {
  if (user.uid === 0 || path === '/') return;
  try {
    await ensureAccess(posix.dirname(path), user, 'x');
  } catch (err) {
    throw namingPath(err, path, user, 'access');
  }
}

/** Creating `path` (and missing parents) needs write and search on its nearest existing ancestor. */
export async function ensureCanCreatePath(path: string, user: UserInfo): Promise<void> {
  try {
    await ensureCanCreate(path, user);
  } catch (err) {
    throw namingPath(err, path, user, 'create');
  }
}

/** Removing or replacing the entry `path` itself (not its contents). */
export async function ensureCanRemovePath(path: string, user: UserInfo): Promise<void> {
  try {
    await ensureCanRemove(path, user);
  } catch (err) {
    throw namingPath(err, path, user, 'remove');
  }
}

/** Listing a directory needs read and search permission on it; a non-directory is `not_a_directory`. */
export async function ensureCanList(dir: string, user: UserInfo): Promise<Stats> {
  let st: Stats;
  try {
    st = await ensureAccess(dir, user, 'r');
  } catch (err) {
    throw namingPath(err, dir, user, 'list');
  }
  if (!st.isDirectory()) throw new WrennError('not_a_directory', `path ${JSON.stringify(dir)} is not a directory`, { path: dir });
  if (!allows(st, user, 'x')) throw denied(dir, user, 'list');
  return st;
}

/** Whether the user could descend into a directory with this stat (read and search it). */
export function canDescend(st: Stats, user: UserInfo): boolean {
  return allows(st, user, 'r') && allows(st, user, 'x');
}

/** Creating an entry inside existing directory `dir` needs write and search on it. */
export async function ensureCanWriteInto(dir: string, path: string, user: UserInfo): Promise<void> {
  if (user.uid === 0) return;
  let st: Stats;
  try {
    st = await ensureAccess(dir, user, 'w');
  } catch (err) {
    throw namingPath(err, path, user, 'create');
  }
  if (!allows(st, user, 'x')) throw denied(path, user, 'create');
}

/**
 * Removing `path` recursively (like `rm -r` run by the user): its parent must allow the
 * removal, and every directory inside must be readable, writable and searchable, with
 * sticky directories only giving up entries the user owns.
 */
export async function ensureCanRemoveTree(path: string, user: UserInfo): Promise<void> {
  await ensureCanRemovePath(path, user);
  if (user.uid === 0) return;
  const st = await fsp.lstat(path).catch((err) => {
    throw fromSystemError(err, path);
  });
  if (st.isDirectory()) await ensureCanEmpty(path, st, user);
}

async function ensureCanEmpty(dir: string, st: Stats, user: UserInfo): Promise<void> {
  if (!allows(st, user, 'r') || !allows(st, user, 'w') || !allows(st, user, 'x')) throw denied(dir, user, 'remove');
  const sticky = (st.mode & 0o1000 /* S_ISVTX */) !== 0 && st.uid !== user.uid;
  for (const name of await fsp.readdir(dir)) {
    const child = posix.join(dir, name);
    const cst = await fsp.lstat(child).catch(() => undefined);
    if (!cst) continue;
    if (sticky && cst.uid !== user.uid) throw denied(child, user, 'remove');
    if (cst.isDirectory()) await ensureCanEmpty(child, cst, user);
  }
}

/**
 * ListDir: the entries under a directory down to a depth, sorted by path. Symlinked
 * directories are listed as symlinks and never entered, so link loops cannot recurse.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { posix } from 'node:path';
import type { EntryInfo } from '@wrenn/proto/filesystem';
import { fromSystemError } from '@wrenn/shared';
import type { EnvdContext } from '../core/context.js';
import type { UserInfo } from '../core/users.js';
import { canDescend, ensureCanList } from './access.js';
import { entryInfoFromStats } from './entry-info.js';

/**
 * Lists `dir` (absolute, as the client named it; a symlink to a directory is followed) for
 * `user`. `depth` 0 or 1 gives the direct children, N descends N levels. Directories the
 * user may not read are listed but not entered.
 */
export async function listDir(dir: string, depth: number, user: UserInfo, ctx: Pick<EnvdContext, 'users'>): Promise<EntryInfo[]> {
  await ensureCanList(dir, user);
  const entries: EntryInfo[] = [];
  await collect(dir, Math.max(1, depth), user, ctx, entries);
  // Plain code-unit order, like Go's sort of paths: stable across locales.
  return entries.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

async function collect(
  dir: string,
  levelsLeft: number,
  user: UserInfo,
  ctx: Pick<EnvdContext, 'users'>,
  out: EntryInfo[],
  isTop = true,
): Promise<void> {
  let names: string[];
  try {
    names = await fsp.readdir(dir);
  } catch (err) {
    // A subdirectory removed or replaced while listing is skipped; the listed one is not.
    const code = (err as NodeJS.ErrnoException).code;
    if (!isTop && (code === 'ENOENT' || code === 'ENOTDIR')) return;
    throw fromSystemError(err, dir);
  }
  const children = await Promise.all(
    names.map(async (name) => {
      const path = posix.join(dir, name);
      // An entry removed while listing is simply not listed.
      const st = await fsp.lstat(path).catch(() => undefined);
      return st ? { path, st, info: await entryInfoFromStats(path, st, ctx) } : undefined;
    }),
  );
  const descend: Array<{ path: string; st: Stats }> = [];
  for (const child of children) {
    if (!child) continue;
    out.push(child.info);
    // lstat: a symlink to a directory is not a directory here, so it is not entered.
    if (levelsLeft > 1 && child.st.isDirectory() && canDescend(child.st, user)) descend.push(child);
  }
  for (const child of descend) await collect(child.path, levelsLeft - 1, user, ctx, out, false);
}

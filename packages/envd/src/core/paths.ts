/** Path resolution for the acting user: `~` and relative paths start at their home. */
import { posix } from 'node:path';
import { WrennError } from '@wrenn/shared';
import type { UserInfo } from './users.js';

/**
 * Resolves `path` for `user`: empty → home, `~`/`~/x` → home-relative, relative →
 * against `base` (default: home). Rejects NUL bytes. Returns a normalised absolute path.
 */
export function resolveUserPath(path: string, user: UserInfo, base?: string): string {
  if (path.includes('\0')) {
    throw new WrennError('invalid_argument', 'path must not contain NUL bytes', { path });
  }
  const home = user.home || '/';
  let p = path;
  if (p === '' || p === '~') p = home;
  else if (p.startsWith('~/')) p = posix.join(home, p.slice(2));
  else if (!p.startsWith('/')) p = posix.join(base ?? home, p);
  const normal = posix.normalize(p);
  return normal.length > 1 && normal.endsWith('/') ? normal.slice(0, -1) : normal;
}

/**
 * EntryInfo: what the filesystem service (and the /files upload route) tells a client
 * about one path. Describes the path itself, never what a symlink points to, except for
 * `symlinkTarget`.
 */
import { promises as fsp, constants as fsc, type Stats } from 'node:fs';
import { posix } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { timestampFromMs } from '@bufbuild/protobuf/wkt';
import { EntryInfoSchema, FileType, type EntryInfo } from '@wrenn/proto/filesystem';
import { fromSystemError } from '@wrenn/shared';
import type { EnvdContext } from '../core/context.js';
import { readUserXattrs } from './xattr.js';

/**
 * Builds the EntryInfo of absolute `absPath` (lstat: a symlink is reported as a symlink).
 * Throws `file_not_found` naming the path when it does not exist.
 *
 * @example
 * const entry = await entryInfo('/home/user/a.txt', ctx);
 */
export async function entryInfo(absPath: string, ctx: Pick<EnvdContext, 'users'>): Promise<EntryInfo> {
  let st: Stats;
  try {
    st = await fsp.lstat(absPath);
  } catch (err) {
    throw fromSystemError(err, absPath);
  }
  return entryInfoFromStats(absPath, st, ctx);
}

/** Same as `entryInfo` for a path whose lstat the caller already has. */
export async function entryInfoFromStats(absPath: string, st: Stats, ctx: Pick<EnvdContext, 'users'>): Promise<EntryInfo> {
  const isLink = st.isSymbolicLink();
  return create(EntryInfoSchema, {
    name: posix.basename(absPath) || '/',
    type: fileTypeOf(st),
    path: absPath,
    size: BigInt(st.size),
    // Go's os.FileMode permission part, including setuid/setgid/sticky.
    mode: st.mode & 0o7777,
    permissions: permissionString(st.mode),
    owner: ctx.users.userName(st.uid),
    group: ctx.users.groupName(st.gid),
    modifiedTime: timestampFromMs(Math.floor(st.mtimeMs)),
    ...(isLink ? { symlinkTarget: await symlinkTarget(absPath) } : {}),
    // Linux allows no user.* xattrs on symlinks; reading through one would report the target's.
    metadata: isLink ? {} : await readUserXattrs(absPath),
  });
}

export function fileTypeOf(st: Pick<Stats, 'mode'>): FileType {
  switch (st.mode & fsc.S_IFMT) {
    case fsc.S_IFREG:
      return FileType.FILE;
    case fsc.S_IFDIR:
      return FileType.DIRECTORY;
    case fsc.S_IFLNK:
      return FileType.SYMLINK;
    default:
      return FileType.UNSPECIFIED;
  }
}

const TYPE_CHARS: Record<number, string> = {
  [fsc.S_IFREG]: '-',
  [fsc.S_IFDIR]: 'd',
  [fsc.S_IFLNK]: 'l',
  [fsc.S_IFCHR]: 'c',
  [fsc.S_IFBLK]: 'b',
  [fsc.S_IFIFO]: 'p',
  [fsc.S_IFSOCK]: 's',
};

/** `ls -l` style mode string: "-rw-r--r--", "drwxr-xr-x", "-rwsr-xr-x", "drwxrwxrwt". */
export function permissionString(mode: number): string {
  const triplet = (shift: number, special: boolean, specialChar: string): string => {
    const r = mode & (0o4 << shift) ? 'r' : '-';
    const w = mode & (0o2 << shift) ? 'w' : '-';
    const exec = (mode & (0o1 << shift)) !== 0;
    const x = special ? (exec ? specialChar : specialChar.toUpperCase()) : exec ? 'x' : '-';
    return r + w + x;
  };
  return (
    (TYPE_CHARS[mode & fsc.S_IFMT] ?? '?') +
    triplet(6, (mode & 0o4000 /* S_ISUID */) !== 0, 's') +
    triplet(3, (mode & 0o2000 /* S_ISGID */) !== 0, 's') +
    triplet(0, (mode & 0o1000 /* S_ISVTX */) !== 0, 't')
  );
}

/**
 * The absolute path a symlink leads to, all links resolved; for a dangling link, its
 * text resolved against the link's directory.
 */
async function symlinkTarget(absPath: string): Promise<string> {
  try {
    return await fsp.realpath(absPath);
  } catch {
    try {
      return posix.resolve(posix.dirname(absPath), await fsp.readlink(absPath));
    } catch {
      return '';
    }
  }
}

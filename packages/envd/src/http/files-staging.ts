/**
 * Writing one uploaded file safely: bytes go to a temp file beside the destination and
 * are renamed into place only when complete, so no reader ever sees half a file, and a
 * failed or aborted upload leaves nothing behind.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { posix } from 'node:path';
import { finished, type Readable, type Writable } from 'node:stream';
import { WrennError, fromSystemError } from '@wrenn/shared';
import { ensureCanCreate } from '../core/permissions.js';
import type { UserInfo } from '../core/users.js';
import { writeUserXattrs } from '../filesystem/xattr.js';

export interface StageOptions {
  /** File metadata stored as `user.<key>` xattrs on the file before it becomes visible. */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** A complete upload in its temp file, waiting for `commit` (rename) or `discard`. */
export interface StagedFile {
  /** Where the file will be (a symlinked destination is resolved to its target). */
  readonly path: string;
  readonly tempPath: string;
  commit(): Promise<void>;
  discard(): Promise<void>;
}

const NEW_FILE_MODE = 0o644;
const NEW_DIR_MODE = 0o755;

/** Prefix of temp files; tests look for leftovers with it. */
export const TEMP_MARKER = '.wrenn-upload-';

function statOrUndefined(path: string, follow: boolean): Promise<Stats | undefined> {
  return (follow ? fsp.stat(path) : fsp.lstat(path)).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return undefined;
    throw fromSystemError(err, path);
  });
}

/**
 * Uploading to a symlink writes through it, as an in-place write would, instead of
 * replacing the link with a regular file. A dangling link is replaced.
 */
async function writeTarget(destination: string): Promise<string> {
  const link = await statOrUndefined(destination, false);
  if (!link?.isSymbolicLink()) return destination;
  return fsp.realpath(destination).catch(() => destination);
}

/** Creates the missing directories above a file, owned by `user`, 0755 each. */
export async function makeParentDirs(dir: string, user: UserInfo, forPath: string): Promise<void> {
  const missing: string[] = [];
  for (let d = dir; ; d = posix.dirname(d)) {
    const st = await statOrUndefined(d, true);
    if (st) {
      if (!st.isDirectory()) {
        throw new WrennError('not_a_directory', `cannot create ${JSON.stringify(forPath)}: ${JSON.stringify(d)} is not a directory`, { path: forPath });
      }
      break;
    }
    missing.unshift(d);
    if (d === '/') break;
  }
  for (const d of missing) {
    try {
      await fsp.mkdir(d, { mode: NEW_DIR_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EEXIST') continue; // made concurrently
      throw fromSystemError(err, d);
    }
    await fsp.chown(d, user.uid, user.gid);
    await fsp.chmod(d, NEW_DIR_MODE); // the process umask must not narrow it
  }
}

/** Maps a failure while copying an upload to what the client should be told. */
export function uploadError(err: unknown, path: string): WrennError {
  if (err instanceof WrennError) return err;
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.code === 'string' && e.code.startsWith('Z_')) {
    return new WrennError('invalid_argument', `request body for ${JSON.stringify(path)} is not valid gzip: ${e.message}`, { path });
  }
  if (e?.code === 'ECONNRESET' || e?.code === 'ERR_STREAM_PREMATURE_CLOSE' || /^Unexpected end of/.test(e?.message ?? '')) {
    return new WrennError('canceled', `upload of ${JSON.stringify(path)} ended before it was complete`, { path });
  }
  return fromSystemError(err, path);
}

/**
 * Copies `source` into `out`, resolving once `out` has closed its file. On a write error
 * the rest of `source` is drained, not destroyed: for a multipart body that keeps the
 * parser moving so the request can still be answered.
 */
function copyInto(source: Readable, out: Writable): Promise<void> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const fail = (err: unknown) => {
      if (settled) return;
      settled = true;
      source.unpipe(out);
      source.resume();
      out.destroy();
      reject(err);
    };
    const stopWatchingSource = finished(source, { writable: false }, (err) => {
      if (err) fail(err);
    });
    out.once('error', fail);
    out.once('close', () => {
      stopWatchingSource();
      if (settled) return;
      if (!out.writableFinished) return fail(new Error('Unexpected end of file: the temp file closed early'));
      settled = true;
      resolve();
    });
    source.pipe(out);
  });
}

/**
 * Streams `source` into a temp file for `destination` on behalf of `user`. Checks that
 * the user may create the file, creates parent directories, and gives the file its
 * owner and mode: a new file is 0644 owned by the user; replacing a file keeps that
 * file's owner and permission bits (as writing into it would), minus setuid/setgid.
 * Metadata is dropped silently where xattrs are unavailable (no native addon).
 */
export async function stageFile(source: Readable, destination: string, user: UserInfo, opts: StageOptions = {}): Promise<StagedFile> {
  const path = await writeTarget(destination);
  const existing = await statOrUndefined(path, true);
  if (existing?.isDirectory()) {
    throw new WrennError('is_a_directory', `cannot write ${JSON.stringify(path)}: it is a directory`, { path });
  }
  if (existing && !existing.isFile()) {
    throw new WrennError('invalid_argument', `cannot write ${JSON.stringify(path)}: it is not a regular file`, { path });
  }
  await ensureCanCreate(path, user);
  const dir = posix.dirname(path);
  await makeParentDirs(dir, user, path);

  const base = posix.basename(path).slice(0, 180);
  const tempPath = posix.join(dir, `.${base}${TEMP_MARKER}${randomBytes(6).toString('hex')}`);
  const discard = () => fsp.rm(tempPath, { force: true });
  let handle: FileHandle;
  try {
    handle = await fsp.open(tempPath, 'wx', 0o600);
  } catch (err) {
    throw fromSystemError(err, path);
  }
  let out: Writable | undefined;
  try {
    await handle.chown(existing?.uid ?? user.uid, existing?.gid ?? user.gid);
    await handle.chmod(existing ? existing.mode & 0o1777 : NEW_FILE_MODE);
    out = handle.createWriteStream({ highWaterMark: 256 * 1024 });
    await copyInto(source, out);
    // Set on the temp file so the file appears with its metadata in one rename.
    if (opts.metadata && Object.keys(opts.metadata).length > 0) await writeUserXattrs(tempPath, opts.metadata);
  } catch (err) {
    // Without a stream the handle is still ours; with one, destroying it closed the handle.
    if (!out) await handle.close().catch(() => {});
    await discard().catch(() => {});
    throw uploadError(err, path);
  }
  return {
    path,
    tempPath,
    commit: async () => {
      try {
        await fsp.rename(tempPath, path);
      } catch (err) {
        await discard().catch(() => {});
        throw fromSystemError(err, path);
      }
    },
    discard,
  };
}

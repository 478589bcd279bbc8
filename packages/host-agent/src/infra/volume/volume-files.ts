/**
 * Files of a mounted volume, for the volume content API. The agent works as host root in a
 * tree capsules wrote, so a path is resolved one component at a time and never through a
 * symlink (the last component of a stat, list or remove may be one: it is reported or
 * removed, not followed); files are opened with O_NOFOLLOW. This is race-free because the
 * content calls run only while no capsule holds the volume (the store refuses them
 * otherwise) and one at a time per volume. uid and gid are shown and taken as a capsule
 * sees them (host uid minus the mapping's base).
 */
import { constants, type Stats } from 'node:fs';
import { chmod, lchown, lstat, mkdir, open, readdir, readlink, rm } from 'node:fs/promises';
import { posix } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { WrennError } from '@wrenn/shared';
import type { IdMapping } from '../runtime/runtime.js';

export interface VolumeEntryInfo {
  name: string;
  path: string;
  type: 'file' | 'directory' | 'symlink' | 'unknown';
  size: number;
  mode: number;
  uid: number;
  gid: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  target?: string;
}

export interface Ownership {
  uid?: number | undefined;
  gid?: number | undefined;
  mode?: number | undefined;
}

const MAX_DEPTH = 32;

/** `path` as a clean absolute path inside the volume ("/" is its root). */
export function normalizeVolumePath(path: string): string {
  if (path.includes('\0')) throw new WrennError('invalid_argument', 'a volume path cannot contain NUL');
  if (path.split('/').includes('..')) throw new WrennError('invalid_argument', `path ${JSON.stringify(path)} has a '..' component: volume paths stay inside the volume`);
  const abs = posix.normalize(`/${path}`);
  if (abs.split('/').includes('..')) throw new WrennError('invalid_argument', `path ${JSON.stringify(path)} leaves the volume`);
  return abs.length > 1 && abs.endsWith('/') ? abs.slice(0, -1) : abs;
}

export class VolumeFiles {
  constructor(
    private readonly root: string,
    private readonly ids: IdMapping,
  ) {}

  /** Host path of `path`, its parents checked to be real directories (no symlink on the way). */
  private async resolve(path: string, { parentMayMiss = false } = {}): Promise<{ host: string; rel: string }> {
    const rel = normalizeVolumePath(path);
    const parts = rel.split('/').filter(Boolean);
    let host = this.root;
    for (let i = 0; i < parts.length - 1; i++) {
      host = `${host}/${parts[i]}`;
      const st = await lstat(host).catch(() => undefined);
      if (!st) {
        if (parentMayMiss) return { host: `${this.root}${rel}`, rel };
        throw notFound(rel);
      }
      if (st.isSymbolicLink()) throw new WrennError('invalid_argument', `${posix.join('/', ...parts.slice(0, i + 1))} is a symlink: volume paths are not followed through symlinks`);
      if (!st.isDirectory()) throw notFound(rel);
    }
    return { host: parts.length ? `${this.root}${rel}` : this.root, rel };
  }

  private async entry(host: string, rel: string, st?: Stats): Promise<VolumeEntryInfo> {
    const s = st ?? (await lstat(host).catch(() => undefined));
    if (!s) throw notFound(rel);
    const type = s.isFile() ? 'file' : s.isDirectory() ? 'directory' : s.isSymbolicLink() ? 'symlink' : 'unknown';
    return {
      name: rel === '/' ? '' : posix.basename(rel),
      path: rel,
      type,
      size: s.size,
      mode: s.mode & 0o7777,
      uid: this.toCapsule(s.uid),
      gid: this.toCapsule(s.gid),
      atimeMs: Math.floor(s.atimeMs),
      mtimeMs: Math.floor(s.mtimeMs),
      ctimeMs: Math.floor(s.ctimeMs),
      ...(type === 'symlink' ? { target: await readlink(host).catch(() => '') } : {}),
    };
  }

  async stat(path: string): Promise<VolumeEntryInfo> {
    const { host, rel } = await this.resolve(path);
    return this.entry(host, rel);
  }

  async list(path: string, depth: number): Promise<VolumeEntryInfo[]> {
    const { host, rel } = await this.resolve(path);
    const st = await lstat(host).catch(() => undefined);
    if (!st) throw notFound(rel);
    if (!st.isDirectory()) throw new WrennError('invalid_argument', `${rel} is not a directory`);
    const out: VolumeEntryInfo[] = [];
    const walk = async (dirHost: string, dirRel: string, level: number): Promise<void> => {
      const names = (await readdir(dirHost)).sort();
      for (const name of names) {
        const childHost = `${dirHost}/${name}`;
        const childRel = dirRel === '/' ? `/${name}` : `${dirRel}/${name}`;
        const s = await lstat(childHost).catch(() => undefined);
        if (!s) continue;
        out.push(await this.entry(childHost, childRel, s));
        if (s.isDirectory() && level < depth) await walk(childHost, childRel, level + 1);
      }
    };
    await walk(host, rel, 1);
    return out;
  }

  async makeDir(path: string, parents: boolean, own: Ownership): Promise<VolumeEntryInfo> {
    const rel = normalizeVolumePath(path);
    if (rel === '/') throw new WrennError('already_exists', 'the volume root exists');
    const parts = rel.split('/').filter(Boolean);
    let host = this.root;
    for (let i = 0; i < parts.length; i++) {
      host = `${host}/${parts[i]}`;
      const last = i === parts.length - 1;
      const st = await lstat(host).catch(() => undefined);
      if (st) {
        if (st.isSymbolicLink()) throw new WrennError('invalid_argument', `${posix.join('/', ...parts.slice(0, i + 1))} is a symlink: volume paths are not followed through symlinks`);
        if (!st.isDirectory()) throw new WrennError('already_exists', `${posix.join('/', ...parts.slice(0, i + 1))} exists and is not a directory`);
        if (last) {
          if (!parents) throw new WrennError('already_exists', `${rel} already exists`);
          return this.entry(host, rel);
        }
        continue;
      }
      if (!last && !parents) throw notFound(posix.join('/', ...parts.slice(0, i + 1)));
      await mkdir(host, { mode: 0o755 });
      await this.own(host, last ? { ...own, mode: own.mode ?? 0o755 } : { mode: 0o755 }, true);
    }
    return this.entry(host, rel);
  }

  async setMetadata(path: string, own: Ownership): Promise<VolumeEntryInfo> {
    const { host, rel } = await this.resolve(path);
    const st = await lstat(host).catch(() => undefined);
    if (!st) throw notFound(rel);
    if (st.isSymbolicLink()) {
      if (own.mode !== undefined) throw new WrennError('invalid_argument', `${rel} is a symlink: its mode cannot be set`);
      await this.chownOnly(host, own, st);
    } else {
      await this.own(host, own, false, st);
    }
    return this.entry(host, rel);
  }

  async remove(path: string): Promise<void> {
    const { host, rel } = await this.resolve(path);
    if (rel === '/') throw new WrennError('invalid_argument', 'the volume root cannot be removed');
    if (!(await lstat(host).catch(() => undefined))) throw notFound(rel);
    // fs.rm unlinks symlinks, it never descends through them.
    await rm(host, { recursive: true, force: true });
  }

  async read(path: string): Promise<Readable> {
    const { host, rel } = await this.resolve(path);
    const fh = await open(host, constants.O_RDONLY | constants.O_NOFOLLOW).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') throw notFound(rel);
      if (err.code === 'ELOOP') throw new WrennError('invalid_argument', `${rel} is a symlink: volume paths are not followed through symlinks`);
      throw err;
    });
    const st = await fh.stat();
    if (!st.isFile()) {
      await fh.close();
      throw new WrennError('invalid_argument', `${rel} is not a file`);
    }
    return fh.createReadStream({ autoClose: true });
  }

  /** Writes a file into an existing directory; an existing file only with `force`. */
  async write(path: string, body: AsyncIterable<Uint8Array>, own: Ownership, force: boolean): Promise<VolumeEntryInfo> {
    const rel = normalizeVolumePath(path);
    if (rel === '/') throw new WrennError('invalid_argument', 'the volume root is a directory');
    const { host } = await this.resolve(rel);
    const parent = await lstat(posix.dirname(host)).catch(() => undefined);
    if (!parent?.isDirectory()) throw notFound(posix.dirname(rel));
    const existing = await lstat(host).catch(() => undefined);
    if (existing && !existing.isFile()) throw new WrennError('already_exists', `${rel} exists and is not a file`);
    if (existing && !force) throw new WrennError('already_exists', `${rel} already exists: write with force to replace it`);
    const fh = await open(host, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
    // The stream owns the handle: it closes it when it finishes or is destroyed.
    await pipeline(body, fh.createWriteStream());
    await this.own(host, { ...own, mode: own.mode ?? (existing ? undefined : 0o644) }, !existing);
    return this.entry(host, rel);
  }

  /** chown (to the mapped ids) and chmod of a path known not to be a symlink. */
  private async own(host: string, own: Ownership, defaultOwner: boolean, st?: Stats): Promise<void> {
    const s = st ?? (await lstat(host));
    if (own.uid !== undefined || own.gid !== undefined || defaultOwner) {
      await lchown(host, this.toHost(own.uid, s.uid), this.toHost(own.gid, s.gid));
    }
    if (own.mode !== undefined) {
      if (!Number.isInteger(own.mode) || own.mode < 0 || own.mode > 0o7777) throw new WrennError('invalid_argument', `mode ${own.mode} is not a file mode (0-07777)`);
      await chmod(host, own.mode);
    }
  }

  private async chownOnly(host: string, own: Ownership, s: Stats): Promise<void> {
    if (own.uid !== undefined || own.gid !== undefined) await lchown(host, this.toHost(own.uid, s.uid), this.toHost(own.gid, s.gid));
  }

  /** A capsule uid as a host uid (unset: keep `current`, itself a host uid, or the mapped root). */
  private toHost(id: number | undefined, current: number): number {
    if (id === undefined) return current >= this.ids.hostBase ? current : this.ids.hostBase;
    if (!Number.isInteger(id) || id < 0 || id >= this.ids.size) throw new WrennError('invalid_argument', `uid/gid ${id} is outside the capsules' range 0-${this.ids.size - 1}`);
    return this.ids.hostBase + id;
  }

  private toCapsule(hostId: number): number {
    const id = hostId - this.ids.hostBase;
    return id >= 0 && id < this.ids.size ? id : 65534;
  }
}

function notFound(rel: string): WrennError {
  return new WrennError('not_found', `path ${rel} not found in the volume`, { path: rel });
}

export { MAX_DEPTH as MAX_VOLUME_LIST_DEPTH };

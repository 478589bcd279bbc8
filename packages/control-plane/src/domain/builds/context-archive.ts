/**
 * A build context: the archive uploaded with a build (tar, tar.gz or zip), read into
 * memory once and checked before any capsule starts (T3). Refused: entry names that are
 * absolute or climb out with `..`, symlinks whose target is absolute or resolves outside
 * the context, hard links, devices and FIFOs, and archives that expand past a cap.
 */
import { gunzipSync } from 'node:zlib';
import { posix } from 'node:path';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import yauzl from 'yauzl';
import { WrennError } from '@wrenn/shared';

export type ContextEntry =
  | { type: 'file'; path: string; mode: number; data: Buffer }
  | { type: 'dir'; path: string; mode: number }
  | { type: 'symlink'; path: string; target: string };

export interface BuildContextFiles {
  /** By normalised relative path (no leading ./, no trailing /). */
  entries: Map<string, ContextEntry>;
  expandedBytes: number;
}

export interface ContextLimits {
  /** Bytes of file content once expanded. */
  maxExpandedBytes: number;
  maxEntries: number;
}

export const DEFAULT_CONTEXT_LIMITS: ContextLimits = { maxExpandedBytes: 512 * 1024 * 1024, maxEntries: 100_000 };

function refuse(message: string): never {
  throw new WrennError('invalid_argument', `build context: ${message}`);
}

/** `./a//b/` → `a/b`; refuses absolute names, `..` components and NUL. */
export function normaliseEntryName(name: string): string {
  if (name.includes('\0')) refuse(`an entry name holds a NUL character`);
  if (name.startsWith('/')) refuse(`entry ${JSON.stringify(name)} has an absolute path: archive paths must be relative`);
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) refuse(`entry ${JSON.stringify(name)} leaves the archive through '..'`);
  return parts.join('/');
}

/** A symlink at `path` pointing at `target` must stay inside the context. */
function checkSymlink(path: string, target: string): void {
  if (target.startsWith('/')) refuse(`symlink ${JSON.stringify(path)} points at the absolute path ${JSON.stringify(target)}: links must stay inside the context`);
  const resolved = posix.normalize(posix.join(posix.dirname(path), target));
  if (resolved === '..' || resolved.startsWith('../')) refuse(`symlink ${JSON.stringify(path)} points outside the context (${JSON.stringify(target)})`);
}

class Collector {
  readonly entries = new Map<string, ContextEntry>();
  expandedBytes = 0;
  constructor(readonly limits: ContextLimits) {}

  add(entry: ContextEntry): void {
    if (entry.path === '') return; // the archive's own root
    if (this.entries.size >= this.limits.maxEntries) refuse(`more than ${this.limits.maxEntries} entries`);
    if (entry.type === 'file') {
      this.expandedBytes += entry.data.length;
      if (this.expandedBytes > this.limits.maxExpandedBytes) refuse(`expands to more than ${this.limits.maxExpandedBytes} bytes`);
    }
    if (entry.type === 'symlink') checkSymlink(entry.path, entry.target);
    this.entries.set(entry.path, entry);
  }
}

async function readTar(buf: Buffer, c: Collector): Promise<void> {
  const extract = tarStream.extract();
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      let size = 0;
      stream.on('data', (d: unknown) => {
        const b = d as Buffer;
        size += b.length;
        if (c.expandedBytes + size > c.limits.maxExpandedBytes) stream.destroy(new WrennError('invalid_argument', `build context: expands to more than ${c.limits.maxExpandedBytes} bytes`));
        chunks.push(b);
      });
      stream.on('error', reject);
      stream.on('end', () => {
        try {
          const path = normaliseEntryName(header.name);
          const mode = (header.mode ?? 0o644) & 0o7777;
          if (header.type === 'file' || header.type === 'contiguous-file') c.add({ type: 'file', path, mode, data: Buffer.concat(chunks, size) });
          else if (header.type === 'directory') c.add({ type: 'dir', path, mode });
          else if (header.type === 'symlink') c.add({ type: 'symlink', path, target: header.linkname ?? '' });
          else refuse(`entry ${JSON.stringify(header.name)} is a ${header.type ?? 'special file'}: only files, directories and symlinks are allowed`);
          next();
        } catch (err) {
          reject(err);
        }
      });
    });
    extract.on('finish', resolve);
    extract.on('error', (err: Error) => reject(err instanceof WrennError ? err : new WrennError('invalid_argument', `build context: not a valid tar archive (${err.message})`)));
  });
  Readable.from([buf]).pipe(extract);
  await done;
}

async function readZip(buf: Buffer, c: Collector): Promise<void> {
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(buf, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (err, z) =>
      err ? reject(new WrennError('invalid_argument', `build context: not a valid zip archive (${err.message})`)) : resolve(z!),
    ),
  );
  await new Promise<void>((resolve, reject) => {
    zip.on('error', (err: Error) => reject(err instanceof WrennError ? err : new WrennError('invalid_argument', `build context: not a valid zip archive (${err.message})`)));
    zip.on('end', () => resolve());
    zip.on('entry', (entry: yauzl.Entry) => {
      try {
        const path = normaliseEntryName(entry.fileName);
        const unixMode = (entry.externalFileAttributes >>> 16) & 0xffff;
        const kind = unixMode & 0o170000;
        if (entry.fileName.endsWith('/') || kind === 0o040000) {
          c.add({ type: 'dir', path, mode: unixMode & 0o7777 || 0o755 });
          zip.readEntry();
          return;
        }
        if (kind !== 0 && kind !== 0o100000 && kind !== 0o120000) refuse(`entry ${JSON.stringify(entry.fileName)} is a special file: only files, directories and symlinks are allowed`);
        if (c.expandedBytes + entry.uncompressedSize > c.limits.maxExpandedBytes) refuse(`expands to more than ${c.limits.maxExpandedBytes} bytes`);
        zip.openReadStream(entry, (err, stream) => {
          if (err || !stream) return reject(new WrennError('invalid_argument', `build context: cannot read ${JSON.stringify(entry.fileName)} (${err?.message})`));
          const chunks: Buffer[] = [];
          stream.on('data', (d: Buffer) => chunks.push(d));
          stream.on('error', reject);
          stream.on('end', () => {
            try {
              const data = Buffer.concat(chunks);
              if (kind === 0o120000) c.add({ type: 'symlink', path, target: data.toString('utf8') });
              else c.add({ type: 'file', path, mode: unixMode & 0o7777 || 0o644, data });
              zip.readEntry();
            } catch (e) {
              reject(e);
            }
          });
        });
      } catch (err) {
        reject(err);
      }
    });
    zip.readEntry();
  }).finally(() => zip.close());
}

/** Reads a tar, tar.gz or zip build context (told apart by their first bytes). */
export async function readContextArchive(buf: Buffer, limits: ContextLimits = DEFAULT_CONTEXT_LIMITS): Promise<BuildContextFiles> {
  const c = new Collector(limits);
  if (buf.length >= 4 && buf.readUInt32LE(0) === 0x04034b50) {
    await readZip(buf, c);
  } else {
    let tar = buf;
    if (buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b) {
      try {
        tar = gunzipSync(buf, { maxOutputLength: limits.maxExpandedBytes + 64 * 1024 * 1024 });
      } catch (err) {
        refuse(`not a valid gzip stream or too large once expanded (${(err as Error).message})`);
      }
    }
    if (tar.length < 512 || tar.subarray(257, 262).toString('latin1') !== 'ustar') refuse('not a tar, tar.gz or zip archive');
    await readTar(tar, c);
  }
  // Nothing may be reached through a symlinked directory (a/link -> .. then a/link/x).
  for (const path of c.entries.keys()) {
    const parts = path.split('/');
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join('/');
      if (c.entries.get(parent)?.type === 'symlink') refuse(`entry ${JSON.stringify(path)} lies under the symlink ${JSON.stringify(parent)}`);
    }
  }
  return { entries: c.entries, expandedBytes: c.expandedBytes };
}

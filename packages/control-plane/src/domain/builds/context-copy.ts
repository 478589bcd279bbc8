/**
 * What one COPY puts where (T3): several sources, the last argument the destination; a
 * directory source copies its contents, a file lands as `dest` itself or, when `dest` is
 * a directory (ends in `/`, several sources, or a directory source), under its own name.
 * The result is a tar of exactly those entries, rooted at the directory it is unpacked
 * in, and the top-level names in it (which the build gives to the current USER).
 */
import { posix } from 'node:path';
import tarStream from 'tar-stream';
import { WrennError } from '@wrenn/shared';
import { normaliseEntryName, type BuildContextFiles, type ContextEntry } from './context-archive.js';

export interface CopyPlan {
  /** Absolute directory the tar is unpacked in. */
  root: string;
  tar: Buffer;
  /** Top-level names the tar creates inside `root`. */
  names: string[];
  files: number;
}

function sourceEntries(ctx: BuildContextFiles, source: string): { entry: ContextEntry | undefined; path: string } {
  const path = normaliseEntryName(source);
  return { entry: path === '' ? { type: 'dir', path: '', mode: 0o755 } : ctx.entries.get(path), path };
}

/** Every COPY source must exist in the context: checked when the build is created. */
export function checkCopySources(ctx: BuildContextFiles | undefined, line: number, sources: string[]): void {
  for (const s of sources) {
    if (!ctx) throw new WrennError('invalid_recipe', `line ${line}: COPY ${s} needs a build context (expected an archive uploaded with the build)`, { line });
    const { entry, path } = sourceEntries(ctx, s);
    const implicitDir = !entry && [...ctx.entries.keys()].some((k) => k.startsWith(`${path}/`));
    if (!entry && !implicitDir) throw new WrennError('invalid_recipe', `line ${line}: COPY source ${JSON.stringify(s)} is not in the build context (expected a path inside the uploaded archive)`, { line });
  }
}

/** `dest` is absolute already (resolved against WORKDIR); a trailing `/` marks a directory. */
export async function planCopy(ctx: BuildContextFiles, sources: string[], dest: string): Promise<CopyPlan> {
  const resolved = sources.map((s) => sourceEntries(ctx, s));
  const isDirSource = (r: (typeof resolved)[number]) => r.entry?.type === 'dir' || (!r.entry && [...ctx.entries.keys()].some((k) => k.startsWith(`${r.path}/`)));
  const destIsDir = dest.endsWith('/') || sources.length > 1 || resolved.some(isDirSource);
  const destPath = posix.normalize(dest).replace(/(.)\/+$/, '$1');
  const root = destIsDir ? destPath : posix.dirname(destPath);

  const out = new Map<string, ContextEntry>();
  for (const r of resolved) {
    if (isDirSource(r)) {
      const prefix = r.path === '' ? '' : `${r.path}/`;
      for (const [path, e] of ctx.entries) {
        if (prefix && !path.startsWith(prefix)) continue;
        const rel = path.slice(prefix.length);
        if (rel) out.set(rel, { ...e, path: rel });
      }
    } else {
      const name = destIsDir ? posix.basename(r.path) : posix.basename(destPath);
      out.set(name, { ...r.entry!, path: name });
    }
  }

  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (d: unknown) => chunks.push(d as Buffer));
  const ended = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  // Parents before children, so each directory exists when its entries are unpacked.
  const ordered = [...out.values()].sort((a, b) => a.path.localeCompare(b.path));
  let files = 0;
  for (const e of ordered) {
    const base = { name: e.path, uid: 0, gid: 0, mtime: new Date() };
    if (e.type === 'file') {
      files += 1;
      await new Promise<void>((resolve, reject) => pack.entry({ ...base, type: 'file', mode: e.mode, size: e.data.length }, e.data, (err) => (err ? reject(err) : resolve())));
    } else if (e.type === 'dir') pack.entry({ ...base, type: 'directory', mode: e.mode });
    else pack.entry({ ...base, type: 'symlink', linkname: e.target, mode: 0o777 });
  }
  pack.finalize();
  await ended;
  const names = [...new Set(ordered.map((e) => e.path.split('/')[0]!))];
  return { root, tar: Buffer.concat(chunks), names, files };
}

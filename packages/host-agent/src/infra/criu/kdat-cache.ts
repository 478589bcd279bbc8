/**
 * CRIU probes the kernel's features at every start (~25 ms here: it creates a network
 * namespace, tries nftables, parses the vDSO, ...) unless it finds its cache,
 * /run/criu.kdat. It writes that cache itself only when /run is a tmpfs (so a reboot into
 * another kernel drops it). On hosts whose /run is on disk, every CRIU start pays the
 * probe — three per lazy resume (runc's restore, the lazy-pages daemon, ...).
 *
 * There, the agent makes the cache at start: `criu check` in a private mount namespace
 * whose /run is a tmpfs writes it, and the agent installs that file as /run/criu.kdat
 * (CRIU reads an existing cache wherever it lives). Made at every agent start, it always
 * describes the running kernel.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, statfs, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { run } from '../exec.js';

const TMPFS_MAGIC = 0x01021994;
export const KDAT_CACHE = '/run/criu.kdat';

export type KdatCacheOutcome = 'kept-by-criu' | 'generated' | 'unavailable';

/**
 * Makes sure CRIU finds its kernel-feature cache. `workDir` is an agent-owned directory
 * (the generated file passes through it). Never throws: without a cache CRIU is only slower.
 */
export async function ensureKdatCache(criuPath: string, workDir: string, signal?: AbortSignal): Promise<KdatCacheOutcome> {
  try {
    if ((await statfs('/run')).type === TMPFS_MAGIC) return 'kept-by-criu';
    await mkdir(workDir, { recursive: true, mode: 0o700 });
    const generated = join(workDir, 'criu.kdat');
    await rm(generated, { force: true });
    // The script is constant; CRIU's path and the output file are arguments ($0, $1).
    const script = 'mount -t tmpfs -o size=1m,mode=0755 wrenn-criu-kdat /run && "$0" check >/dev/null 2>&1; cp /run/criu.kdat "$1"';
    await run('unshare', ['--mount', '--propagation', 'private', '--', 'sh', '-c', script, criuPath, generated], {
      timeoutMs: 30_000,
      allowFailure: true,
      ...(signal ? { signal } : {}),
    });
    const kdat = await readFile(generated).catch(() => undefined);
    if (!kdat || kdat.length === 0) return 'unavailable';
    const tmp = `${KDAT_CACHE}.wrenn-${process.pid}-${randomBytes(4).toString('hex')}`;
    await writeFile(tmp, kdat, { mode: 0o600 });
    await rename(tmp, KDAT_CACHE).catch(async (err: unknown) => {
      await rm(tmp, { force: true });
      throw err;
    });
    return 'generated';
  } catch {
    return 'unavailable';
  }
}

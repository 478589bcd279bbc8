/**
 * A lock file that serialises template builds across processes (the agent and the
 * build-template CLI, or two test files, may build the same template at once). The file
 * holds the owner's pid; a lock whose owner is dead is taken over.
 */
import { link, readFile, unlink, writeFile } from 'node:fs/promises';
import { sleep, WrennError } from '@wrenn/shared';

export interface FileLockOptions {
  signal?: AbortSignal;
  pollMs?: number;
  /** Called once if the lock is held by another live process and we start waiting. */
  onWait?: (ownerPid: number) => void;
}

/** Waits for the lock at `path`; resolves with its release function. */
export async function acquireFileLock(path: string, opts: FileLockOptions = {}): Promise<() => Promise<void>> {
  let waited = false;
  for (;;) {
    if (opts.signal?.aborted) throw new WrennError('canceled', `waiting for lock ${path} was cancelled`);
    // Written aside, then hard-linked into place: the lock never exists without its pid.
    const candidate = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}`;
    await writeFile(candidate, String(process.pid), { mode: 0o644 });
    try {
      await link(candidate, path);
      return () => releaseFileLock(path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      await unlink(candidate).catch(() => {});
    }
    const content = await readFile(path, 'utf8').catch(() => undefined);
    if (content === undefined) continue; // released meanwhile
    const owner = Number(content.trim());
    if (!Number.isInteger(owner) || owner <= 0 || !isAlive(owner)) {
      // The owner died holding it. (Two processes taking over the same dead lock at the
      // same instant could both succeed; builds are rare enough to accept that.)
      await unlink(path).catch(() => {});
      continue;
    }
    if (!waited) opts.onWait?.(owner);
    waited = true;
    await sleep(opts.pollMs ?? 250, opts.signal);
  }
}

async function releaseFileLock(path: string): Promise<void> {
  const owner = (await readFile(path, 'utf8').catch(() => '')).trim();
  if (owner === String(process.pid)) await unlink(path).catch(() => {});
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

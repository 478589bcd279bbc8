/**
 * Freezing a capsule's cgroup by writing the freezer file directly, as `runc pause` does,
 * without the runc process: on the pause path its exec and state loading cost ~12 ms of a
 * ~1 ms operation. runc derives a container's `paused` status from the same file, so
 * `runc resume`, `runc checkpoint` and `runc state` see no difference.
 *
 * v1 (and hybrid, whose freezer is a v1 controller): `freezer.state` ← FROZEN, then read
 * until the kernel reports FROZEN (FREEZING while a task has not stopped yet; a task forked
 * in between can hold it there, so the write is repeated now and then, as runc does).
 * v2: `cgroup.freeze` ← 1, then `cgroup.events` until `frozen 1`.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WrennError, sleep } from '@wrenn/shared';
import { controllerDir, type CgroupLayout } from './layout.js';

export interface FreezeOptions {
  /** Give up (thaw again and throw) after this long; default 5000. */
  timeoutMs?: number;
}

/** Milliseconds between re-writes of the v1 freezer state while it stays FREEZING. */
const REWRITE_EVERY_MS = 50;

/** The freezer file of `cgroupPath`, or undefined where the host has no freezer. */
function freezerFiles(layout: CgroupLayout, cgroupPath: string): { state: string; events?: string; v2: boolean } | undefined {
  if (layout.mode === 'v2') {
    const dir = controllerDir(layout, '', cgroupPath)!;
    return { state: join(dir, 'cgroup.freeze'), events: join(dir, 'cgroup.events'), v2: true };
  }
  const dir = controllerDir(layout, 'freezer', cgroupPath);
  return dir === undefined ? undefined : { state: join(dir, 'freezer.state'), v2: false };
}

async function isFrozen(files: { state: string; events?: string; v2: boolean }): Promise<boolean> {
  if (files.v2) return /^frozen 1$/m.test(await readFile(files.events!, 'utf8'));
  return (await readFile(files.state, 'utf8')).trim() === 'FROZEN';
}

/**
 * Freezes every process in `cgroupPath`. Resolves false (nothing done) where the host has
 * no freezer for it; throws not_found when the cgroup does not exist.
 */
export async function freezeCgroup(layout: CgroupLayout, cgroupPath: string, opts: FreezeOptions = {}): Promise<boolean> {
  const files = freezerFiles(layout, cgroupPath);
  if (!files) return false;
  const freeze = () => writeFile(files.state, files.v2 ? '1' : 'FROZEN');
  try {
    await freeze();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new WrennError('not_found', `cgroup ${cgroupPath} does not exist`, { cgroupPath });
    throw err;
  }
  const started = Date.now();
  let lastWrite = started;
  const timeoutMs = opts.timeoutMs ?? 5000;
  while (!(await isFrozen(files))) {
    const now = Date.now();
    if (now - started > timeoutMs) {
      await thawCgroup(layout, cgroupPath).catch(() => {});
      throw new WrennError('deadline_exceeded', `cgroup ${cgroupPath} did not freeze within ${timeoutMs} ms`, { cgroupPath });
    }
    if (!files.v2 && now - lastWrite >= REWRITE_EVERY_MS) {
      await freeze();
      lastWrite = now;
    }
    await sleep(1);
  }
  return true;
}

/** Thaws `cgroupPath` (no-op where there is no freezer). */
export async function thawCgroup(layout: CgroupLayout, cgroupPath: string): Promise<void> {
  const files = freezerFiles(layout, cgroupPath);
  if (files) await writeFile(files.state, files.v2 ? '0' : 'THAWED');
}

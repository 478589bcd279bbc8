/**
 * Cleanup of capsule cgroups that outlived their runtime state (agent killed mid-create,
 * runc killed before it wrote its state). A cgroup directory can only be removed once it
 * holds no process, so removal first kills what is left inside: those are processes of the
 * capsule itself, never anything else on the host.
 */
import { readdir, readFile, rmdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { WrennError, sleep } from '@wrenn/shared';
import { allCgroupDirs, type CgroupLayout } from './layout.js';

export interface RemoveCgroupOptions {
  signal?: AbortSignal;
  /** How long to wait for killed processes to leave the cgroup (default 5000). */
  timeoutMs?: number;
}

/**
 * Kills every process left in `cgroupPath` (and its children) and removes its directory in
 * every hierarchy. A path that does not exist is not an error.
 */
export async function removeCgroup(layout: CgroupLayout, cgroupPath: string, opts: RemoveCgroupOptions = {}): Promise<void> {
  if (!cgroupPath.startsWith('/') || cgroupPath.split('/').includes('..') || cgroupPath.replace(/\/+$/, '') === '') {
    throw new WrennError('invalid_argument', `refusing to remove cgroup ${JSON.stringify(cgroupPath)}: not a sub-cgroup path`);
  }
  const timeoutMs = opts.timeoutMs ?? 5000;
  const deadline = Date.now() + timeoutMs;
  const roots = allCgroupDirs(layout, cgroupPath);
  for (;;) {
    const trees = (await Promise.all(roots.map(subtreeDirs))).flat();
    if (trees.length === 0) return;
    const pids = await processesIn(trees);
    if (pids.length > 0) {
      await killAll(trees, pids);
    } else {
      // Children before parents; a dir may still be busy for a moment after its last exit.
      const sorted = trees.sort((a, b) => b.length - a.length);
      let busy = false;
      for (const dir of sorted) busy = !(await tryRmdir(dir)) || busy;
      if (!busy) return;
    }
    if (opts.signal?.aborted) throw new WrennError('canceled', `removal of cgroup ${cgroupPath} was cancelled`);
    if (Date.now() > deadline) {
      throw new WrennError('internal', `cgroup ${cgroupPath} still busy after ${timeoutMs} ms (processes: ${pids.join(' ') || 'none'})`, {
        cgroupPath,
      });
    }
    await sleep(10, opts.signal);
  }
}

/** Names of the child cgroups under `parentPath` in any hierarchy (e.g. capsule ids under /wrenn). */
export async function listChildCgroups(layout: CgroupLayout, parentPath: string): Promise<string[]> {
  const names = new Set<string>();
  for (const dir of allCgroupDirs(layout, parentPath)) {
    for (const entry of await readdirOrEmpty(dir)) if (entry.isDirectory()) names.add(entry.name);
  }
  return [...names].sort();
}

async function killAll(dirs: string[], pids: number[]): Promise<void> {
  for (const dir of dirs) {
    // A frozen process does not die until thawed (v1 freezer / v2 cgroup.freeze).
    await writeIfExists(join(dir, 'freezer.state'), 'THAWED');
    await writeIfExists(join(dir, 'cgroup.freeze'), '0');
  }
  // cgroup.kill (v2, also on the hybrid unified mount) kills atomically, racing no forks.
  for (const dir of dirs) await writeIfExists(join(dir, 'cgroup.kill'), '1');
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
}

async function subtreeDirs(root: string): Promise<string[]> {
  const entries = await readdirOrEmpty(root);
  if (entries === NOT_FOUND) return [];
  const out = [root];
  for (const e of entries) if (e.isDirectory()) out.push(...(await subtreeDirs(join(root, e.name))));
  return out;
}

async function processesIn(dirs: string[]): Promise<number[]> {
  const pids = new Set<number>();
  for (const dir of dirs) {
    let text = '';
    try {
      text = await readFile(join(dir, 'cgroup.procs'), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) if (line.trim()) pids.add(Number(line));
  }
  return [...pids];
}

const NOT_FOUND: never[] = [];

async function readdirOrEmpty(dir: string) {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return NOT_FOUND;
    throw err;
  }
}

async function tryRmdir(dir: string): Promise<boolean> {
  try {
    await rmdir(dir);
    return true;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return true;
    if (code === 'EBUSY' || code === 'ENOTEMPTY') return false;
    throw err;
  }
}

async function writeIfExists(path: string, value: string): Promise<void> {
  try {
    await writeFile(path, value);
  } catch {
    // file absent in this hierarchy/kernel, or cgroup already gone
  }
}

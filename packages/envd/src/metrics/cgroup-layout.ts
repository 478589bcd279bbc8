/**
 * Finding the capsule's own cgroup directories under the cgroup root, for cgroup v2 and
 * for v1 (including the v1 "hybrid" layout with an empty cgroup2 under unified/).
 *
 * Inside a capsule the cgroup namespace makes the capsule's cgroup the root, so the
 * files are directly under the root (or its controller directories). Without a cgroup
 * namespace (envd on a host, tests), /proc/self/cgroup names the sub-path below the root.
 */
import { promises as fsp } from 'node:fs';
import { posix } from 'node:path';

export type CgroupLayout =
  | {
      readonly version: 2;
      /** The unified cgroup directory (memory.*, cpu.* files). */
      readonly dir: string;
      /** Directories from `dir` up to the cgroup root: limits of parents apply too. */
      readonly ancestors: readonly string[];
    }
  | {
      readonly version: 1;
      /** memory controller directory (memory.usage_in_bytes, memory.stat, memory.limit_in_bytes). */
      readonly memoryDir: string;
      /** cpuacct controller directory (cpuacct.usage), if mounted. */
      readonly cpuacctDir: string | undefined;
      /** cpu controller directory (cpu.cfs_quota_us), if mounted. */
      readonly cpuDir: string | undefined;
    };

interface CgroupEntry {
  readonly controllers: readonly string[];
  readonly path: string;
}

/** Parses /proc/self/cgroup: `id:controller,controller:/path` per line (`0::/path` for v2). */
export function parseProcCgroup(text: string): CgroupEntry[] {
  const entries: CgroupEntry[] = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+):([^:]*):(.*)$/.exec(line.trim());
    if (!m) continue;
    entries.push({ controllers: m[2] ? m[2].split(',') : [], path: m[3] || '/' });
  }
  return entries;
}

async function hasFile(dir: string, file: string): Promise<boolean> {
  return fsp
    .access(posix.join(dir, file))
    .then(() => true)
    .catch(() => false);
}

/** The first of `dirs` that holds `file`. */
async function firstWith(dirs: readonly string[], file: string): Promise<string | undefined> {
  for (const dir of dirs) if (await hasFile(dir, file)) return dir;
  return undefined;
}

/**
 * Directories where a v1 controller's cgroup may be: the process's own cgroup under the
 * controller's mount (host view), then the mount itself (capsule view, cgroup namespace).
 */
function v1Candidates(root: string, entries: readonly CgroupEntry[], controller: string): string[] {
  const entry = entries.find((e) => e.controllers.includes(controller));
  // The mount is named after its controllers ("cpu,cpuacct"), usually with a "cpuacct" symlink too.
  const mounts = [...new Set([entry?.controllers.join(','), controller, ...(controller.startsWith('cpu') ? ['cpu,cpuacct', 'cpuacct,cpu'] : [])])];
  const dirs: string[] = [];
  for (const mount of mounts) {
    if (!mount) continue;
    if (entry && entry.path !== '/') dirs.push(posix.join(root, mount, entry.path));
    dirs.push(posix.join(root, mount));
  }
  return dirs;
}

/** Locates the cgroup of this process under `root`, or undefined when there is none. */
export async function locateCgroup(cgroupRoot: string, procSelfCgroup = '/proc/self/cgroup'): Promise<CgroupLayout | undefined> {
  const root = posix.normalize(cgroupRoot).replace(/(.)\/+$/, '$1');
  const entries = parseProcCgroup(await fsp.readFile(procSelfCgroup, 'utf8').catch(() => ''));

  // v2: the unified hierarchy has the memory controller (the cgroup root itself has no memory.current).
  const unified = entries.find((e) => e.controllers.length === 0);
  const v2Dirs = unified && unified.path !== '/' ? [posix.join(root, unified.path), root] : [root];
  const dir = await firstWith(v2Dirs, 'memory.current');
  if (dir) {
    const ancestors: string[] = [];
    for (let d = dir; d.startsWith(root); d = posix.dirname(d)) {
      ancestors.push(d);
      if (d === root || d === '/') break;
    }
    return { version: 2, dir, ancestors };
  }

  const memoryDir = await firstWith(v1Candidates(root, entries, 'memory'), 'memory.usage_in_bytes');
  if (!memoryDir) return undefined;
  return {
    version: 1,
    memoryDir,
    cpuacctDir: await firstWith(v1Candidates(root, entries, 'cpuacct'), 'cpuacct.usage'),
    cpuDir: await firstWith(v1Candidates(root, entries, 'cpu'), 'cpu.cfs_quota_us'),
  };
}

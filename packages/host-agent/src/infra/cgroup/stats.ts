/**
 * Reads a cgroup's resource usage straight from its files (well under a millisecond, versus
 * ~10 ms for spawning `runc events --stats`; the metrics sampler calls this every second for
 * every capsule). "Memory used" is what Docker reports: usage minus inactive page cache,
 * i.e. memory the capsule cannot give back under pressure.
 */
import { readFile } from 'node:fs/promises';
import { totalmem } from 'node:os';
import { join } from 'node:path';
import { WrennError } from '@wrenn/shared';
import { controllerDir, type CgroupLayout } from './layout.js';

export interface CgroupStats {
  cpuUsageNs: number;
  memoryUsedBytes: number;
  /** The memory limit; the host's total memory when the cgroup has none. */
  memoryLimitBytes: number;
  pids: number;
}

/** v1 reports "no limit" as a page-rounded 2^63-1; anything this large is unlimited. */
const UNLIMITED_THRESHOLD = 2 ** 60;

export async function readCgroupStats(layout: CgroupLayout, cgroupPath: string): Promise<CgroupStats> {
  try {
    return layout.mode === 'v2' ? await readV2(layout, cgroupPath) : await readV1(layout, cgroupPath);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new WrennError('not_found', `cgroup ${cgroupPath} does not exist (the sandbox is not running)`, { cgroupPath });
    }
    throw err;
  }
}

async function readV1(layout: CgroupLayout, cgroupPath: string): Promise<CgroupStats> {
  const mem = dirOf(layout, 'memory', cgroupPath);
  const [usage, limit, memStat, cpu, pids] = await Promise.all([
    readNumber(join(mem, 'memory.usage_in_bytes')),
    readNumber(join(mem, 'memory.limit_in_bytes')),
    readKeyed(join(mem, 'memory.stat')),
    readNumber(join(dirOf(layout, 'cpuacct', cgroupPath), 'cpuacct.usage')),
    readNumber(join(dirOf(layout, 'pids', cgroupPath), 'pids.current')),
  ]);
  const inactiveFile = memStat.get('total_inactive_file') ?? memStat.get('inactive_file') ?? 0;
  return {
    cpuUsageNs: cpu,
    memoryUsedBytes: Math.max(0, usage - inactiveFile),
    memoryLimitBytes: limit >= UNLIMITED_THRESHOLD ? totalmem() : limit,
    pids,
  };
}

async function readV2(layout: CgroupLayout, cgroupPath: string): Promise<CgroupStats> {
  const dir = join(layout.unifiedMount!, cgroupPath);
  const [usage, max, memStat, cpuStat, pids] = await Promise.all([
    readNumber(join(dir, 'memory.current')),
    readFile(join(dir, 'memory.max'), 'utf8'),
    readKeyed(join(dir, 'memory.stat')),
    readKeyed(join(dir, 'cpu.stat')),
    readNumber(join(dir, 'pids.current')),
  ]);
  const inactiveFile = memStat.get('inactive_file') ?? 0;
  return {
    cpuUsageNs: (cpuStat.get('usage_usec') ?? 0) * 1000,
    memoryUsedBytes: Math.max(0, usage - inactiveFile),
    memoryLimitBytes: max.trim() === 'max' ? totalmem() : Number(max),
    pids,
  };
}

function dirOf(layout: CgroupLayout, controller: string, cgroupPath: string): string {
  const dir = controllerDir(layout, controller, cgroupPath);
  if (dir === undefined) throw new WrennError('failed_precondition', `cgroup v1 controller ${controller} is not mounted on this host`);
  return dir;
}

async function readNumber(path: string): Promise<number> {
  return Number((await readFile(path, 'utf8')).trim());
}

/** Parses "key value" lines (memory.stat, cpu.stat). */
export async function readKeyed(path: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await readFile(path, 'utf8')).split('\n')) {
    const space = line.indexOf(' ');
    if (space > 0) out.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return out;
}

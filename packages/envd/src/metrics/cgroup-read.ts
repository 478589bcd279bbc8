/**
 * Reading memory and CPU figures from a located cgroup (docs/decisions.md#e7: the capsule's own numbers,
 * not the host's). Used memory leaves out reclaimable page cache (inactive_file), as
 * `free` and container runtimes do; an unlimited cgroup reports the machine's memory.
 */
import { promises as fsp } from 'node:fs';
import { posix } from 'node:path';
import type { CgroupLayout } from './cgroup-layout.js';

export interface MemoryFigures {
  readonly usedBytes: number;
  readonly totalBytes: number;
}

/** Parses `key value` lines (memory.stat, cpu.stat). */
export function parseKeyValues(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const [key, value] = line.trim().split(/\s+/);
    if (key && value !== undefined && /^\d+$/.test(value)) out.set(key, Number(value));
  }
  return out;
}

async function readText(dir: string, file: string): Promise<string> {
  return (await fsp.readFile(posix.join(dir, file), 'utf8')).trim();
}

async function readNumber(dir: string, file: string): Promise<number> {
  const text = await readText(dir, file);
  const n = Number(text);
  if (!Number.isFinite(n)) throw new Error(`${posix.join(dir, file)} does not hold a number: ${JSON.stringify(text)}`);
  return n;
}

/** A limit at or above the machine's memory (v1 writes ~2^63 for "none") means unlimited. */
function effectiveLimit(limit: number | undefined, hostTotalBytes: number): number {
  return limit === undefined || limit <= 0 || limit >= hostTotalBytes ? hostTotalBytes : limit;
}

export async function readCgroupMemory(layout: CgroupLayout, hostTotalBytes: number): Promise<MemoryFigures> {
  if (layout.version === 1) {
    const [usage, statText, ownLimit] = await Promise.all([
      readNumber(layout.memoryDir, 'memory.usage_in_bytes'),
      readText(layout.memoryDir, 'memory.stat'),
      readNumber(layout.memoryDir, 'memory.limit_in_bytes'),
    ]);
    const stat = parseKeyValues(statText);
    // total_* include child cgroups, as usage_in_bytes does.
    const inactiveFile = stat.get('total_inactive_file') ?? stat.get('inactive_file') ?? 0;
    // hierarchical_memory_limit is the tightest limit of this cgroup and its parents.
    const limit = Math.min(ownLimit, stat.get('hierarchical_memory_limit') ?? ownLimit);
    return { usedBytes: Math.max(0, usage - inactiveFile), totalBytes: effectiveLimit(limit, hostTotalBytes) };
  }
  const [usage, statText] = await Promise.all([readNumber(layout.dir, 'memory.current'), readText(layout.dir, 'memory.stat')]);
  const inactiveFile = parseKeyValues(statText).get('inactive_file') ?? 0;
  let limit: number | undefined;
  for (const dir of layout.ancestors) {
    const max = await readText(dir, 'memory.max').catch(() => 'max');
    if (max !== 'max' && Number.isFinite(Number(max))) limit = Math.min(limit ?? Infinity, Number(max));
  }
  return { usedBytes: Math.max(0, usage - inactiveFile), totalBytes: effectiveLimit(limit, hostTotalBytes) };
}

/** CPU time used by the cgroup so far, in nanoseconds; undefined without a CPU accounting file. */
export async function readCgroupCpuUsageNs(layout: CgroupLayout): Promise<number | undefined> {
  if (layout.version === 1) {
    if (!layout.cpuacctDir) return undefined;
    return readNumber(layout.cpuacctDir, 'cpuacct.usage');
  }
  const stat = parseKeyValues(await readText(layout.dir, 'cpu.stat').catch(() => ''));
  const usec = stat.get('usage_usec');
  return usec === undefined ? undefined : usec * 1000;
}

function cores(quota: number, period: number): number | undefined {
  return quota > 0 && period > 0 ? quota / period : undefined;
}

/** The cgroup's CPU quota in cores (e.g. 1.5), or undefined when not limited. */
export async function readCgroupCpuQuota(layout: CgroupLayout): Promise<number | undefined> {
  if (layout.version === 1) {
    if (!layout.cpuDir) return undefined;
    const [quota, period] = await Promise.all([readNumber(layout.cpuDir, 'cpu.cfs_quota_us'), readNumber(layout.cpuDir, 'cpu.cfs_period_us')]);
    return cores(quota, period); // quota -1: unlimited
  }
  // cpu.max is "max 100000" or "<quota> <period>"; a parent's quota limits its children too.
  let limit: number | undefined;
  for (const dir of layout.ancestors) {
    const [quota = 'max', period = '100000'] = (await readText(dir, 'cpu.max').catch(() => 'max')).split(/\s+/);
    const c = quota === 'max' ? undefined : cores(Number(quota), Number(period));
    if (c !== undefined) limit = Math.min(limit ?? Infinity, c);
  }
  return limit;
}

/**
 * Figures for envd running where it has no cgroup of its own to read (a VM backend,
 * where the kernel is the capsule's own): memory as MemTotal − MemAvailable and CPU from
 * /proc/stat. Never used when a cgroup was found, since on a container host these are
 * the host's numbers (docs/decisions.md#e7).
 */
import { promises as fsp } from 'node:fs';
import type { MemoryFigures } from './cgroup-read.js';

export async function readMeminfo(path = '/proc/meminfo'): Promise<MemoryFigures> {
  const text = await fsp.readFile(path, 'utf8');
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, 'm').exec(text)?.[1] ?? 0);
  const total = kib('MemTotal') * 1024;
  const available = kib('MemAvailable') * 1024;
  return { usedBytes: Math.max(0, total - available), totalBytes: total };
}

/** Busy and total jiffies of all CPUs from the first line of /proc/stat. */
export async function readProcStatCpu(path = '/proc/stat'): Promise<{ busy: number; total: number }> {
  const line = (await fsp.readFile(path, 'utf8')).split('\n', 1)[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal guest guest_nice; guest time is inside user.
  const v = line.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = v.reduce((a, b) => a + b, 0);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  return { busy: total - idle, total };
}

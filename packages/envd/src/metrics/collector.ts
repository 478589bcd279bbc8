/**
 * What GET /metrics reports: CPU, memory and disk of the capsule. CPU and memory come
 * from the capsule's own cgroup (docs/decisions.md#e7); CPU usage is the rate between this call and the
 * previous one (the host agent polls about every second), or over a short fresh window
 * when there is no recent previous sample.
 */
import { promises as fsp } from 'node:fs';
import { availableParallelism, totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { locateCgroup } from './cgroup-layout.js';
import { readCgroupCpuQuota, readCgroupCpuUsageNs, readCgroupMemory, type MemoryFigures } from './cgroup-read.js';
import { readMeminfo, readProcStatCpu } from './host-fallback.js';

/** The envd /metrics body (field names as the e2b SDK reads them). */
export interface EnvdMetrics {
  /** Unix seconds. */
  readonly ts: number;
  readonly cpu_count: number;
  /** 0–100, relative to cpu_count's worth of CPU (the cgroup quota when limited). */
  readonly cpu_used_pct: number;
  readonly mem_total: number;
  readonly mem_used: number;
  readonly mem_total_mib: number;
  readonly mem_used_mib: number;
  readonly disk_used: number;
  readonly disk_total: number;
}

export interface CollectorOptions {
  readonly cgroupRoot: string;
  readonly diskPath: string;
  /** Default /proc/self/cgroup. */
  readonly procSelfCgroup?: string;
}

/** A reading of a monotonic CPU counter: `used` grows by `cores` per unit of `clock` at full load. */
interface CpuReading {
  readonly source: string;
  readonly used: number;
  readonly clock: number;
  readonly cores: number;
}

/** A previous reading is used if it is at least this old (shorter windows are noise)... */
const MIN_WINDOW_NS = 50e6;
/** ...and at most this old (older ones average over a long-gone past). */
const MAX_WINDOW_NS = 10e9;
/** Window measured on the spot when there is no usable previous reading. */
const FRESH_WINDOW_MS = 100;

const MIB = 1024 * 1024;

export class MetricsCollector {
  private previous: { reading: CpuReading; atNs: bigint } | undefined;

  constructor(private readonly opts: CollectorOptions) {}

  async collect(): Promise<EnvdMetrics> {
    const layout = await locateCgroup(this.opts.cgroupRoot, this.opts.procSelfCgroup);
    const hostCores = availableParallelism();

    const readCpu = async (): Promise<CpuReading> => {
      const usageNs = layout ? await readCgroupCpuUsageNs(layout).catch(() => undefined) : undefined;
      if (layout && usageNs !== undefined) {
        const quota = await readCgroupCpuQuota(layout).catch(() => undefined);
        const cores = quota === undefined ? hostCores : Math.min(quota, hostCores);
        const source = layout.version === 1 ? layout.cpuacctDir ?? '' : layout.dir;
        return { source, used: usageNs, clock: Number(process.hrtime.bigint()), cores };
      }
      // /proc/stat counts jiffies of all CPUs: busy/total is already relative to every core.
      const { busy, total } = await readProcStatCpu();
      return { source: '/proc/stat', used: busy, clock: total, cores: 1 };
    };

    const [memory, disk, cpu] = await Promise.all([
      layout ? readCgroupMemory(layout, totalmem()) : readMeminfo(),
      this.disk(),
      this.cpuPercent(readCpu),
    ]);
    return {
      ts: Math.floor(Date.now() / 1000),
      cpu_count: cpu.count,
      cpu_used_pct: cpu.percent,
      ...memoryFields(memory),
      disk_used: disk.used,
      disk_total: disk.total,
    };
  }

  private async cpuPercent(read: () => Promise<CpuReading>): Promise<{ percent: number; count: number }> {
    const now = process.hrtime.bigint();
    let before = this.previous;
    const age = before ? Number(now - before.atNs) : 0;
    let after = await read();
    if (!before || before.reading.source !== after.source || age < MIN_WINDOW_NS || age > MAX_WINDOW_NS) {
      before = { reading: after, atNs: now };
      await sleep(FRESH_WINDOW_MS);
      after = await read();
    }
    this.previous = { reading: after, atNs: process.hrtime.bigint() };
    const elapsed = after.clock - before.reading.clock;
    const used = after.used - before.reading.used;
    const ratio = elapsed > 0 ? used / (elapsed * after.cores) : 0;
    const percent = Math.round(Math.min(100, Math.max(0, ratio * 100)) * 100) / 100;
    // A fractional quota (1.5 cores) is reported as the cores the capsule can touch (2).
    const count = after.source === '/proc/stat' ? availableParallelism() : Math.max(1, Math.ceil(after.cores));
    return { percent, count };
  }

  private async disk(): Promise<{ used: number; total: number }> {
    const st = await fsp.statfs(this.opts.diskPath);
    return { used: (st.blocks - st.bfree) * st.bsize, total: st.blocks * st.bsize };
  }
}

function memoryFields(m: MemoryFigures): Pick<EnvdMetrics, 'mem_total' | 'mem_used' | 'mem_total_mib' | 'mem_used_mib'> {
  return {
    mem_total: m.totalBytes,
    mem_used: m.usedBytes,
    mem_total_mib: Math.floor(m.totalBytes / MIB),
    mem_used_mib: Math.floor(m.usedBytes / MIB),
  };
}

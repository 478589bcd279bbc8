/**
 * Samples one capsule every second (cpu %, its own memory, its disk) into tiered ring
 * buffers. Owned by the capsule's live entry: stopped on destroy and pause, restarted on
 * resume, and never more than one timer per capsule (docs/decisions.md#h8).
 */
import type { Logger } from '@wrenn/shared';
import { TieredMetrics, type MetricSample } from './tiers.js';

export interface SampleSource {
  /** Cumulative CPU time (ns) and memory of the capsule's cgroup. */
  cpuAndMemory(): Promise<{ cpuUsageNs: number; memoryUsedBytes: number; memoryLimitBytes: number }>;
  disk(): Promise<{ usedBytes: number; totalBytes: number }>;
}

export class MetricsSampler {
  readonly history = new TieredMetrics();
  private timer: NodeJS.Timeout | undefined;
  private previous: { cpuNs: number; atNs: bigint } | undefined;
  private inFlight = false;

  constructor(
    private readonly source: SampleSource,
    private readonly vcpus: number,
    private readonly logger: Logger,
    private readonly intervalMs = 1000,
  ) {}

  get running(): boolean {
    return this.timer !== undefined;
  }

  start(): void {
    if (this.timer) return;
    this.previous = undefined;
    this.timer = setInterval(() => void this.sampleOnce(), this.intervalMs);
    this.timer.unref();
    void this.sampleOnce();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  async sampleOnce(): Promise<MetricSample | undefined> {
    // A slow cgroup read must not pile up samples.
    if (this.inFlight) return undefined;
    this.inFlight = true;
    try {
      const [cm, disk] = await Promise.all([this.source.cpuAndMemory(), this.source.disk()]);
      const now = process.hrtime.bigint();
      let cpuPct = 0;
      if (this.previous) {
        const wallNs = Number(now - this.previous.atNs);
        if (wallNs > 0) cpuPct = Math.max(0, Math.min(100, ((cm.cpuUsageNs - this.previous.cpuNs) / (wallNs * this.vcpus)) * 100));
      }
      this.previous = { cpuNs: cm.cpuUsageNs, atNs: now };
      const sample: MetricSample = {
        tsMs: Date.now(),
        cpuPct,
        memUsedBytes: cm.memoryUsedBytes,
        memTotalBytes: cm.memoryLimitBytes,
        diskUsedBytes: disk.usedBytes,
        diskTotalBytes: disk.totalBytes,
      };
      this.history.add(sample);
      return sample;
    } catch (err) {
      this.logger.debug({ err: (err as Error).message }, 'metrics sample failed');
      return undefined;
    } finally {
      this.inFlight = false;
    }
  }
}

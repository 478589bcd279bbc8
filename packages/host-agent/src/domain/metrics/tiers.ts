/**
 * Metrics history of one capsule in three tiers (docs/decisions.md#h8): 1 s samples for 10 minutes, 30 s
 * averages for 2 hours, 5 min averages for 24 hours. Bounded memory: ~1,100 points.
 */
import { RingBuffer } from './ring-buffer.js';

export interface MetricSample {
  tsMs: number;
  cpuPct: number;
  memUsedBytes: number;
  memTotalBytes: number;
  diskUsedBytes: number;
  diskTotalBytes: number;
}

export type MetricsRange = '5m' | '10m' | '2h' | '24h';
export const METRICS_RANGES: readonly MetricsRange[] = ['5m', '10m', '2h', '24h'];

const RANGE_MS: Record<MetricsRange, number> = { '5m': 5 * 60_000, '10m': 10 * 60_000, '2h': 2 * 3_600_000, '24h': 24 * 3_600_000 };

/** Averages samples falling into one bucket of `bucketMs`, emitting when a bucket closes. */
class Downsampler {
  private bucket = -1;
  private acc: MetricSample[] = [];

  constructor(
    private readonly bucketMs: number,
    private readonly out: RingBuffer<MetricSample>,
  ) {}

  add(s: MetricSample): void {
    const b = Math.floor(s.tsMs / this.bucketMs);
    if (b !== this.bucket && this.acc.length > 0) this.flush();
    this.bucket = b;
    this.acc.push(s);
  }

  private flush(): void {
    const n = this.acc.length;
    const avg = (f: (s: MetricSample) => number) => this.acc.reduce((a, s) => a + f(s), 0) / n;
    this.out.push({
      tsMs: this.bucket * this.bucketMs,
      cpuPct: avg((s) => s.cpuPct),
      memUsedBytes: Math.round(avg((s) => s.memUsedBytes)),
      memTotalBytes: this.acc[n - 1]!.memTotalBytes,
      diskUsedBytes: Math.round(avg((s) => s.diskUsedBytes)),
      diskTotalBytes: this.acc[n - 1]!.diskTotalBytes,
    });
    this.acc = [];
  }

  /** The bucket still being filled, averaged, so recent data shows before the bucket closes. */
  pending(): MetricSample[] {
    if (this.acc.length === 0) return [];
    const copy = new RingBuffer<MetricSample>(1);
    const saved = this.acc;
    const d = new Downsampler(this.bucketMs, copy);
    for (const s of saved) d.add(s);
    d.flush();
    return copy.toArray();
  }
}

export class TieredMetrics {
  private readonly fine = new RingBuffer<MetricSample>(600);
  private readonly mid = new RingBuffer<MetricSample>(240);
  private readonly coarse = new RingBuffer<MetricSample>(288);
  private readonly midSampler = new Downsampler(30_000, this.mid);
  private readonly coarseSampler = new Downsampler(300_000, this.coarse);

  add(s: MetricSample): void {
    this.fine.push(s);
    this.midSampler.add(s);
    this.coarseSampler.add(s);
  }

  latest(): MetricSample | undefined {
    const all = this.fine.toArray();
    return all[all.length - 1];
  }

  /** Points within `range` of `nowMs`, from the finest tier that covers the range. */
  query(range: MetricsRange, nowMs = Date.now()): MetricSample[] {
    const since = nowMs - RANGE_MS[range];
    const source =
      range === '5m' || range === '10m'
        ? this.fine.toArray()
        : range === '2h'
          ? [...this.mid.toArray(), ...this.midSampler.pending()]
          : [...this.coarse.toArray(), ...this.coarseSampler.pending()];
    return source.filter((p) => p.tsMs >= since);
  }

  get size(): number {
    return this.fine.length + this.mid.length + this.coarse.length;
  }
}

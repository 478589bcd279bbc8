/**
 * Keeps a number of pre-started capsules per template so that Create costs only a claim
 * (/init with the caller's envs, user and metadata). Refills in the background, one
 * capsule at a time, backing off after failures so a broken template cannot spin.
 */
import type { Logger } from '@wrenn/shared';

export interface WarmPoolOps {
  /** Warm capsules of `template` that exist or are being started. */
  count(template: string): number;
  /** Starts one warm capsule of `template`. */
  startOne(template: string): Promise<void>;
}

export class WarmPool {
  private refilling = false;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    readonly targets: Readonly<Record<string, number>>,
    private readonly ops: WarmPoolOps,
    private readonly logger: Logger,
  ) {}

  /** Schedules a refill (after a claim, at start); coalesces concurrent requests. */
  kick(delayMs = 0): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.refill();
    }, delayMs);
    this.timer.unref();
  }

  private async refill(): Promise<void> {
    if (this.refilling || this.stopped) return;
    this.refilling = true;
    try {
      for (const [template, target] of Object.entries(this.targets)) {
        while (!this.stopped && this.ops.count(template) < target) {
          await this.ops.startOne(template);
          this.failures = 0;
        }
      }
    } catch (err) {
      this.failures++;
      const delay = Math.min(60_000, 1000 * 2 ** Math.min(this.failures, 6));
      this.logger.warn({ err: (err as Error).message, retryInMs: delay }, 'warm pool refill failed');
      this.refilling = false;
      this.kick(delay);
      return;
    }
    this.refilling = false;
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}

/**
 * Capsule activity (`last_activity_at`, the auto-pause timer), written behind the calls
 * that make it: `touch` only notes the capsule, and one UPDATE per second at most stamps
 * every capsule touched since (so an exec costs no write of its own, and a burst on many
 * capsules is one statement). The stamp is the flush time: at most ~1 s later than the
 * activity, which only ever delays an auto-pause.
 *
 * Long operations (a foreground exec, a file transfer, a streamed command) `hold` their
 * capsule: while held it is stamped every HOLD_PULSE_MS, and the auto-pause worker of
 * this process skips it, so a capsule is never paused in the middle of one.
 *
 * One recorder per control plane (`ctx.activity`); the auto-pause worker flushes it
 * before looking for idle capsules, and closing the control plane flushes it.
 */
import { stampActivity } from '../../db/repos/capsules.js';
import type { ContextBase } from '../../context-base.js';

/** Longest a touch waits before it is written. */
export const ACTIVITY_FLUSH_MS = 1_000;
/** How often a held capsule is stamped (other replicas' auto-pause sees it this fresh). */
export const HOLD_PULSE_MS = 10_000;

export class CapsuleActivity {
  private pending = new Set<string>();
  private readonly holds = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;
  private pulseTimer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  /** How often held capsules are stamped (tests shorten it before holding anything). */
  pulseMs = HOLD_PULSE_MS;

  constructor(private readonly ctx: Pick<ContextBase, 'db' | 'logger'>) {}

  /** Notes activity on a capsule; written within ACTIVITY_FLUSH_MS. */
  touch(capsuleId: string): void {
    this.pending.add(capsuleId);
    if (!this.flushTimer && !this.closed) {
      this.flushTimer = setTimeout(() => void this.flush(), ACTIVITY_FLUSH_MS);
      this.flushTimer.unref();
    }
  }

  /**
   * Keeps the capsule active until the returned release is called (idempotent).
   * @example const release = ctx.activity.hold(id); try { await longCall() } finally { release() }
   */
  hold(capsuleId: string): () => void {
    this.touch(capsuleId);
    this.holds.set(capsuleId, (this.holds.get(capsuleId) ?? 0) + 1);
    if (!this.pulseTimer && !this.closed) {
      this.pulseTimer = setInterval(() => {
        for (const id of this.holds.keys()) this.touch(id);
      }, this.pulseMs);
      this.pulseTimer.unref();
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const n = (this.holds.get(capsuleId) ?? 1) - 1;
      if (n > 0) this.holds.set(capsuleId, n);
      else this.holds.delete(capsuleId);
      // The end of a long operation is activity too: the idle time counts from here.
      this.touch(capsuleId);
      if (this.holds.size === 0 && this.pulseTimer) {
        clearInterval(this.pulseTimer);
        this.pulseTimer = undefined;
      }
    };
  }

  /** True while a long operation of this process holds the capsule. */
  isHeld(capsuleId: string): boolean {
    return this.holds.has(capsuleId);
  }

  /** Writes every pending touch now (and waits for writes already started). */
  async flush(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.size > 0) {
      const ids = [...this.pending];
      this.pending = new Set();
      // One write at a time, in order: a slow database never piles up statements here.
      this.writing = this.writing.then(() =>
        stampActivity(this.ctx.db, ids).then(
            () => undefined,
            (err: unknown) => this.ctx.logger.warn({ err, capsules: ids.length }, 'could not record capsule activity; the calls themselves were not affected'),
          ),
      );
    }
    await this.writing;
  }

  /** Final flush; no timer runs afterwards. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.pulseTimer) clearInterval(this.pulseTimer);
    this.pulseTimer = undefined;
    await this.flush();
  }
}

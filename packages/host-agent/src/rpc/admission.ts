/**
 * Admission control: capsule starts and restores (create, resume) on this host run at most
 * `concurrency` at a time (default: one per core), the rest wait in arrival order. A busy
 * host then makes starts slower instead of failing them: each start's own deadlines (envd
 * becoming healthy) count from when it leaves the queue. A caller that gives up while
 * waiting (its signal aborts) leaves the queue without ever starting.
 *
 * @example
 * const admission = new Admission(4);
 * const record = await admission.run(() => manager.create(req, signal), signal);
 */
import { WrennError } from '@wrenn/shared';

interface Waiter {
  start: () => void;
  fail: (err: unknown) => void;
}

export class Admission {
  private running = 0;
  private readonly waiting: Waiter[] = [];

  constructor(readonly concurrency: number) {
    if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new WrennError('invalid_argument', `admission concurrency must be an integer ≥ 1, got ${concurrency}`);
  }

  /** Starts waiting for a turn. */
  get queued(): number {
    return this.waiting.length;
  }

  /** Starts holding a turn. */
  get active(): number {
    return this.running;
  }

  async run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    await this.acquire(signal);
    try {
      return await work();
    } finally {
      this.release();
    }
  }

  private acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(cancelled());
    if (this.running < this.concurrency) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = () => {
        const i = this.waiting.indexOf(waiter);
        if (i >= 0) this.waiting.splice(i, 1);
        reject(cancelled());
      };
      const waiter: Waiter = {
        start: () => {
          signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: reject,
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.waiting.push(waiter);
    });
  }

  private release(): void {
    const next = this.waiting.shift();
    // The turn passes straight to the next waiter: `running` stays the same.
    if (next) next.start();
    else this.running--;
  }
}

function cancelled(): WrennError {
  return new WrennError('canceled', 'the start was cancelled while it waited for its turn on this host');
}

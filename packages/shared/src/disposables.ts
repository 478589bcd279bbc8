/**
 * Ownership of resources that must be released on every path (timers, children,
 * sockets, watchers): register a release function, dispose in reverse order once.
 */
export class DisposableStack {
  private readonly releases: Array<() => unknown> = [];
  private disposed = false;

  /** Registers `release`; if the stack is already disposed, runs it at once. */
  defer(release: () => unknown): void {
    if (this.disposed) {
      void Promise.resolve().then(release).catch(() => {});
      return;
    }
    this.releases.push(release);
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Runs every release in reverse order; errors are collected, not short-circuited. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const errors: unknown[] = [];
    while (this.releases.length > 0) {
      const release = this.releases.pop()!;
      try {
        await release();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length === 1) throw errors[0];
    if (errors.length > 1) throw new AggregateError(errors, 'several resources failed to release');
  }
}

/** setTimeout that is cancelled when `signal` aborts; resolves false if aborted. */
export function sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve(false);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      resolve(false);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A worker that runs one pass every `intervalMs`, never two passes at once (the next is
 * scheduled when the previous one ends), and whose `stop()` aborts the pass in flight and
 * waits for it.
 */
import type { Logger } from '@wrenn/shared';
import type { ControlPlaneContext, Worker } from '../context.js';

export function periodicWorker(name: string, intervalMs: number, pass: (ctx: ControlPlaneContext, signal: AbortSignal) => Promise<unknown>, logger: Logger): Worker {
  const abort = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  const log = logger.child({ worker: name });

  const schedule = (ctx: ControlPlaneContext) => {
    if (abort.signal.aborted) return;
    timer = setTimeout(() => {
      running = pass(ctx, abort.signal)
        .then(
          () => undefined,
          (err: unknown) => {
            if (!abort.signal.aborted) log.error({ err: (err as Error)?.message ?? String(err) }, `${name} pass failed; retrying next interval`);
          },
        )
        .finally(() => {
          running = undefined;
          schedule(ctx);
        });
    }, intervalMs);
    timer.unref();
  };

  return {
    name,
    start(ctx) {
      schedule(ctx);
    },
    async stop() {
      abort.abort();
      clearTimeout(timer);
      await running;
    },
  };
}

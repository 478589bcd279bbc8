/** Worker: starts pending template builds (and fails those whose runner died) every second and whenever a build is created or ends. */
import type { ControlPlaneContext, Worker } from '../context.js';

export const BUILDS_WORKER = 'builds';

export function buildsWorker(ctx: ControlPlaneContext): Worker {
  let timer: NodeJS.Timeout | undefined;
  return {
    name: BUILDS_WORKER,
    start(c) {
      const runners = c.builds;
      runners.start();
      timer = setInterval(() => runners.wake(), 1000);
      timer.unref();
    },
    async stop() {
      clearInterval(timer);
      await ctx.builds.stop();
    },
  };
}

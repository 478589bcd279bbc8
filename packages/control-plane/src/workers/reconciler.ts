/** Worker: compares every host agent's capsules with the database each `reconcileIntervalSec` and fixes drift. */
import type { ControlPlaneContext, Worker } from '../context.js';
import { reconcileOnce } from '../domain/hosts/reconcile.js';
import { periodicWorker } from './periodic.js';

export const RECONCILER_WORKER = 'reconciler';

export { reconcileOnce };

export function reconcilerWorker(ctx: ControlPlaneContext): Worker {
  return periodicWorker(RECONCILER_WORKER, ctx.config.reconcileIntervalSec * 1000, (c, signal) => reconcileOnce(c, { signal }), ctx.logger);
}

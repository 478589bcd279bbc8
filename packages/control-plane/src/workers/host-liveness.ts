/** Worker: marks hosts that stopped heartbeating `down` and their capsules `missing`. */
import type { ControlPlaneContext, Worker } from '../context.js';
import { markStaleHosts } from '../domain/hosts/liveness.js';
import { periodicWorker } from './periodic.js';

export const HOST_LIVENESS_WORKER = 'host-liveness';

export function hostLivenessWorker(ctx: ControlPlaneContext): Worker {
  // Checked several times per down-after period, so a host is down within ~1.25× of it.
  const intervalMs = Math.min(5000, Math.max(200, (ctx.config.hostDownAfterSec * 1000) / 4));
  return periodicWorker(HOST_LIVENESS_WORKER, intervalMs, (c) => markStaleHosts(c), ctx.logger);
}

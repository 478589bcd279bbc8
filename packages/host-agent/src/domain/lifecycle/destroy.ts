/**
 * Destroying a capsule: everything it holds released (runtime, network, disk, snapshot),
 * each step attempted even if an earlier one failed. The record goes only when every step
 * succeeded; otherwise it stays as `error` saying what is left, so a retry (or the next
 * agent start) finishes the job.
 */
import { WrennError } from '@wrenn/shared';
import { STATUS_MOVES, type CapsuleStatus } from '../capsule-record.js';
import type { PauseController } from '../pause/pause-controller.js';
import { capsuleDir, type CapsuleKit } from '../capsules/kit.js';
import type { LiveCapsule } from '../capsules/registry.js';

/** `stopping` is reachable from every status. */
const ANY_STATUS = Object.keys(STATUS_MOVES) as CapsuleStatus[];

export async function destroyCapsule(kit: CapsuleKit, pauser: PauseController, live: LiveCapsule): Promise<void> {
  const { record } = live;
  const log = kit.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId });
  const started = Date.now();
  // A pause still releasing this capsule's mounts and network: after it, not beside it.
  await pauser.releasedFor(record.runtimeId);
  kit.registry.transition(live, ANY_STATUS, 'stopping');
  kit.watchers.stop(live);
  live.envd?.close();
  kit.connections?.close(record.id);
  const failures: string[] = [];
  const step = async (name: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      failures.push(`${name}: ${(err as Error).message}`);
    }
  };
  await step('runtime', () => kit.runtime.delete(record.runtimeId, { force: true }));
  const slot = kit.network.slot(record.netSlot);
  await step('network', () => kit.network.unplumb(slot));
  await step('rootfs', () => kit.rootfs.remove(capsuleDir(kit, record.runtimeId)));
  await step('snapshot', () => pauser.discard(record.runtimeId));
  if (failures.length > 0) {
    kit.registry.transition(live, 'stopping', 'error');
    record.error = `destroy incomplete: ${failures.join('; ')}`;
    await kit.registry.save(record).catch(() => {});
    log.error({ failures, durationMs: Date.now() - started }, 'capsule destroy incomplete');
    throw new WrennError('internal', `capsule ${record.id} could not be fully destroyed: ${failures.join('; ')}`);
  }
  await kit.registry.store.remove(record.runtimeId);
  kit.network.release(record.netSlot);
  kit.registry.remove(record.id);
  log.info({ durationMs: Date.now() - started }, 'capsule destroyed');
}

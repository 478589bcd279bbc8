/**
 * After a failed pause or an interrupted one (docs/decisions.md#h3, #h11): bring the capsule back to running
 * if it can still run, otherwise release everything it holds and mark it `error`. Never a
 * record that says running while the capsule cannot execute.
 */
import type { CapsuleRecord, CapsuleStatus } from '../capsule-record.js';
import { capsuleDir, type CapsuleKit } from '../capsules/kit.js';
import type { LiveCapsule } from '../capsules/registry.js';
import type { EnvdInit } from '../ports.js';
import type { SnapshotStore } from './snapshot-store.js';

/** The states a revival or a failure starts from: an operation that took the capsule out of running. */
const INTERRUPTED: readonly CapsuleStatus[] = ['pausing', 'resuming', 'snapshotting'];

/** Deadline of the revival itself: its own, never the (possibly cancelled) caller's (docs/decisions.md#h3). */
export const REVIVAL_TIMEOUT_MS = 30_000;

/** envd's /init body for a capsule that already exists (after restore, or after a failed pause). */
export function initBody(record: CapsuleRecord): EnvdInit {
  return {
    accessToken: record.envdAccessToken,
    defaultUser: record.defaultUser,
    ...(record.workdir ? { defaultWorkdir: record.workdir } : {}),
    envVars: record.envs,
    metadata: record.metadata,
    capsuleId: record.id,
    templateId: record.template,
  };
}

/**
 * Thaws the capsule if its processes still exist (the runtime's freezer, or CRIU's, may
 * hold them), then asks envd for liveness and re-runs /init (restarting what
 * /snapshot/prepare stopped). Resolves true when the capsule is running again.
 */
export async function reviveIfAlive(kit: CapsuleKit, capsule: LiveCapsule): Promise<boolean> {
  const { record } = capsule;
  const signal = AbortSignal.timeout(REVIVAL_TIMEOUT_MS);
  const state = await kit.runtime.state(record.runtimeId, signal).catch(() => undefined);
  if (!state || (state.status !== 'running' && state.status !== 'paused')) return false;
  if (state.status === 'paused') {
    try {
      await kit.runtime.thaw(record.runtimeId);
    } catch {
      return false;
    }
  }
  capsule.envd?.close();
  const envd = kit.envd.connect(record.address, record.envdAccessToken);
  try {
    // The liveness check of docs/decisions.md#h11: a capsule whose processes are gone, or stuck, fails here.
    await envd.waitHealthy(5_000, signal);
    await envd.init(initBody(record), signal);
  } catch {
    envd.close();
    return false;
  }
  capsule.envd = envd;
  kit.registry.transition(capsule, INTERRUPTED, 'running');
  delete record.error;
  await kit.registry.save(record);
  kit.watchers.start(capsule);
  return true;
}

/**
 * Releases a capsule that cannot run any more (processes, network, disk, snapshot) and
 * marks it `error`; the slot and the record stay until Destroy, so the caller sees why.
 */
export async function markFailed(kit: CapsuleKit, snapshots: SnapshotStore, capsule: LiveCapsule, reason: string): Promise<void> {
  const { record } = capsule;
  kit.watchers.stop(capsule);
  capsule.envd?.close();
  delete capsule.envd;
  const failures: string[] = [];
  const step = async (name: string, fn: () => Promise<unknown>) => {
    await fn().catch((err: unknown) => failures.push(`${name}: ${(err as Error).message}`));
  };
  await step('runtime', () => kit.runtime.delete(record.runtimeId, { force: true }));
  await step('network', () => kit.network.unplumb(kit.network.slot(record.netSlot)));
  await step('rootfs', () => kit.rootfs.remove(capsuleDir(kit, record.runtimeId)));
  await step('snapshot', () => snapshots.remove(record.runtimeId));
  kit.registry.transition(capsule, INTERRUPTED, 'error');
  record.error = `${reason}; the capsule could not run again and was destroyed${failures.length ? ` (cleanup incomplete: ${failures.join('; ')})` : ''}`;
  await kit.registry.save(record).catch(() => {});
  kit.logger.error({ capsuleId: record.id, reason, failures }, 'capsule marked error');
}

/**
 * After a failed pause or an interrupted one (H3, H11): bring the capsule back to running
 * if it can still run, otherwise release everything it holds and mark it `error`. Never a
 * record that says running while the capsule cannot execute.
 */
import { EnvdClient } from '../../infra/envd/envd-client.js';
import type { EnvdInit } from '../../infra/envd/envd-client.js';
import type { CapsuleRecord } from '../capsule-record.js';
import type { PauseDeps, PausableCapsule } from './pause-types.js';
import type { SnapshotStore } from './snapshot-store.js';

/** Deadline of the revival itself: its own, never the (possibly cancelled) caller's (H3). */
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
export async function reviveIfAlive(deps: PauseDeps, capsule: PausableCapsule): Promise<boolean> {
  const { record } = capsule;
  const signal = AbortSignal.timeout(REVIVAL_TIMEOUT_MS);
  const state = await deps.runtime.state(record.runtimeId, signal).catch(() => undefined);
  if (!state || (state.status !== 'running' && state.status !== 'paused')) return false;
  if (state.status === 'paused') {
    try {
      await deps.runtime.thaw(record.runtimeId);
    } catch {
      return false;
    }
  }
  capsule.envd?.close();
  const envd = new EnvdClient(record.address, deps.envdPort, record.envdAccessToken);
  try {
    // The liveness check of H11: a capsule whose processes are gone, or stuck, fails here.
    await envd.waitHealthy(5_000, signal);
    await envd.init(initBody(record), signal);
  } catch {
    envd.close();
    return false;
  }
  capsule.envd = envd;
  record.status = 'running';
  delete record.error;
  await deps.saveRecord(record);
  deps.startWatchers(capsule);
  return true;
}

/**
 * Releases a capsule that cannot run any more (processes, network, disk, snapshot) and
 * marks it `error`; the slot and the record stay until Destroy, so the caller sees why.
 */
export async function markFailed(deps: PauseDeps, snapshots: SnapshotStore, capsule: PausableCapsule, reason: string): Promise<void> {
  const { record } = capsule;
  deps.stopWatchers(capsule);
  capsule.envd?.close();
  delete capsule.envd;
  const failures: string[] = [];
  const step = async (name: string, fn: () => Promise<unknown>) => {
    await fn().catch((err: unknown) => failures.push(`${name}: ${(err as Error).message}`));
  };
  await step('runtime', () => deps.runtime.delete(record.runtimeId, { force: true }));
  await step('network', () => deps.network.unplumb(deps.network.slot(record.netSlot)));
  await step('rootfs', () => deps.rootfs.remove(deps.capsuleDir(record.runtimeId)));
  await step('snapshot', () => snapshots.remove(record.runtimeId));
  record.status = 'error';
  record.error = `${reason}; the capsule could not run again and was destroyed${failures.length ? ` (cleanup incomplete: ${failures.join('; ')})` : ''}`;
  await deps.saveRecord(record).catch(() => {});
  deps.logger.error({ capsuleId: record.id, reason, failures }, 'capsule marked error');
}

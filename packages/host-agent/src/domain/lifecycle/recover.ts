/**
 * After an agent (re)start: capsules still running are adopted again; paused ones, and
 * those left half-way through a pause, resume or snapshot, are settled by their own
 * recovery; anything left by a capsule that died or by a create that crashed half-way is
 * released.
 */
import type { PauseController } from '../pause/pause-controller.js';
import type { SnapshotTemplates } from '../snapshot-templates/snapshot-templates.js';
import { destroyCapsule } from './destroy.js';
import { capsuleDir, type CapsuleKit } from '../capsules/kit.js';
import type { LiveCapsule } from '../capsules/registry.js';

export interface Recovered {
  adopted: string[];
  cleaned: string[];
}

export async function recoverCapsules(kit: CapsuleKit, pauser: PauseController, snapshotTemplates: SnapshotTemplates): Promise<Recovered> {
  const { registry, runtime } = kit;
  const { records, orphanDirs } = await registry.store.scan();
  const adopted: string[] = [];
  const cleaned: string[] = [];
  const known = new Set<string>();
  const interrupted = await snapshotTemplates.recoverLeftovers().catch((err: unknown) => {
    kit.logger.warn({ err: (err as Error).message }, 'removing unfinished snapshot templates failed');
    return [];
  });
  cleaned.push(...interrupted);
  for (const record of records) {
    known.add(record.runtimeId);
    const slot = kit.network.reserve(record.netSlot);
    const live: LiveCapsule = { record, lastActivityMs: Date.now() };
    registry.add(live);
    if (record.status === 'snapshotting') {
      const outcome = await snapshotTemplates.recoverSource(live, pauser.snapshots);
      (outcome === 'error' ? cleaned : adopted).push(record.id);
      continue;
    }
    if (record.status === 'pausing' || record.status === 'paused' || record.status === 'resuming') {
      const outcome = await pauser.recover(live);
      (outcome === 'error' ? cleaned : adopted).push(record.id);
      continue;
    }
    const state = await runtime.state(record.runtimeId).catch(() => undefined);
    const alive = state && (state.status === 'running' || state.status === 'paused') && (record.status === 'running' || record.status === 'warm');
    if (alive) {
      const envd = kit.envd.connect(slot.guestIp, record.envdAccessToken);
      if (await envd.health()) {
        live.envd = envd;
        if (state.status === 'paused') await runtime.thaw(record.runtimeId).catch(() => {});
        if (record.status === 'running') kit.watchers.start(live);
        adopted.push(record.id);
        continue;
      }
      envd.close();
    }
    await destroyCapsule(kit, pauser, live).catch((err: unknown) =>
      kit.logger.error({ capsuleId: record.id, err: (err as Error).message }, 'cleanup of a dead capsule failed'),
    );
    cleaned.push(record.id);
  }
  for (const runtimeId of orphanDirs) {
    known.add(runtimeId);
    await runtime.delete(runtimeId, { force: true }).catch(() => {});
    await kit.rootfs.remove(capsuleDir(kit, runtimeId)).catch(() => {});
    await registry.store.remove(runtimeId);
    cleaned.push(runtimeId);
  }
  for (const runtimeId of await runtime.list().catch(() => [] as string[])) {
    if (known.has(runtimeId)) continue;
    await runtime.delete(runtimeId, { force: true }).catch(() => {});
    cleaned.push(runtimeId);
  }
  const live = new Set(registry.all().map((c) => c.record.runtimeId));
  cleaned.push(...(await pauser.removeOrphans(live).catch(() => [] as string[])));
  kit.logger.info({ adopted: adopted.length, cleaned: cleaned.length }, 'recovered capsules from disk');
  return { adopted, cleaned };
}

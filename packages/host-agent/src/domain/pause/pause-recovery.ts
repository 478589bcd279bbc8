/**
 * An agent (re)start meets capsules that were paused, or that it left half-way through a
 * pause or a resume (it was killed; runc and CRIU outlive it). Each ends `paused` (its
 * snapshot complete), `running` (its processes still alive and answering) or `error`
 * (released) — never a zombie.
 */
import { sleep } from '@wrenn/shared';
import { dumpOutcome, type DumpOutcome } from '../../infra/criu/dump-log.js';
import { releaseHostResources, snapshotMetadata } from './pause-capsule.js';
import { markFailed, reviveIfAlive } from './revival.js';
import type { CapsuleKit } from '../capsules/kit.js';
import type { LiveCapsule } from '../capsules/registry.js';
import type { SnapshotStore } from './snapshot-store.js';

/** How long recovery waits for a dump the previous agent started to finish. */
const DUMP_WAIT_MS = 120_000;

export type RecoveredAs = 'running' | 'paused' | 'error';

export async function recoverPauseState(kit: CapsuleKit, snapshots: SnapshotStore, capsule: LiveCapsule): Promise<RecoveredAs> {
  const { record } = capsule;
  const log = kit.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId, status: record.status });
  if (record.status === 'pausing') {
    const outcome = record.pauseKind === 'memory' ? await waitForDump(snapshots.memoryDir(record.runtimeId)) : 'none';
    if (outcome === 'succeeded') {
      // The dump completed after the agent died: finish the pause.
      await releaseHostResources(kit, record, log, { processesGone: true });
      return finishPaused(kit, snapshots, capsule, 'memory');
    }
    await snapshots.remove(record.runtimeId).catch(() => {});
    if (await reviveIfAlive(kit, capsule)) return log.info('interrupted pause undone: capsule running'), 'running';
    if (record.pauseKind === 'filesystem') {
      // Its processes are gone and its disk is intact: that is a filesystem pause.
      await releaseHostResources(kit, record, log);
      return finishPaused(kit, snapshots, capsule, 'filesystem');
    }
    await markFailed(kit, snapshots, capsule, `the agent stopped during a pause (dump ${outcome})`);
    return 'error';
  }
  if (record.status === 'resuming') {
    if (await reviveIfAlive(kit, capsule)) return log.info('interrupted resume completed: capsule running'), 'running';
    await releaseHostResources(kit, record, log);
    kit.registry.transition(capsule, 'resuming', 'paused');
  }
  // paused: no processes, network rules or mounts may remain from before the restart.
  await releaseHostResources(kit, record, log);
  if (record.pauseKind === 'memory' && !(await snapshots.hasMemoryImage(record.runtimeId))) {
    // The disk is intact: resuming from it is better than losing the capsule.
    log.warn('memory image missing; the capsule will resume from its disk');
    return finishPaused(kit, snapshots, capsule, 'filesystem');
  }
  const meta = await snapshots.readMetadata(record.runtimeId);
  if (!meta) await snapshots.writeMetadata(snapshotMetadata(kit, record, record.pauseKind ?? 'filesystem', await snapshots.memoryBytes(record.runtimeId)));
  return 'paused';
}

async function finishPaused(kit: CapsuleKit, snapshots: SnapshotStore, capsule: LiveCapsule, kind: 'memory' | 'filesystem'): Promise<RecoveredAs> {
  const { record } = capsule;
  kit.registry.transition(capsule, ['pausing', 'paused'], 'paused');
  record.pauseKind = kind;
  record.pausedAtMs ??= Date.now();
  if (kind === 'filesystem') await snapshots.removeMemory(record.runtimeId).catch(() => {});
  await snapshots.writeMetadata(snapshotMetadata(kit, record, kind, await snapshots.memoryBytes(record.runtimeId)));
  await kit.registry.save(record);
  kit.logger.info({ capsuleId: record.id, kind }, 'capsule recovered as paused');
  return 'paused';
}

async function waitForDump(imageDir: string): Promise<DumpOutcome> {
  const deadline = Date.now() + DUMP_WAIT_MS;
  let outcome = await dumpOutcome(imageDir);
  while (outcome === 'in-progress' && Date.now() < deadline) {
    await sleep(100);
    outcome = await dumpOutcome(imageDir);
  }
  return outcome;
}

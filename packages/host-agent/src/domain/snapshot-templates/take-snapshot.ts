/**
 * Saving a running capsule (status `snapshotting`, set by the caller) as a snapshot
 * template, leaving it running:
 *
 *   envd /snapshot/prepare (docs/decisions.md#e3) → processes frozen (cgroup freezer) → disk copied with the
 *   filesystem frozen → memory dumped with --leave-running → processes thawed → envd /init
 *   (port scanner and forwarders restarted, the agent's new connection kept)
 *
 * The disk is copied before the dump, inside the same freeze: memory and disk are from one
 * instant (CRIU keeps a cgroup it found frozen frozen, and the filesystem cannot stay frozen
 * during the dump, which reads through it). TCP connections are dumped established and,
 * with the network locked by CRIU meanwhile, continue in the source.
 *
 * Any failure thaws the capsule and brings it back (or marks it error, docs/decisions.md#h3): a snapshot
 * never costs the source its life.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WrennError, isWrennError } from '@wrenn/shared';
import type { CheckpointResult } from '../../infra/runtime/runtime.js';
import { capsuleDir, type CapsuleKit } from '../capsules/kit.js';
import type { LiveCapsule } from '../capsules/registry.js';
import { checkpointSandbox } from '../pause/criu-ops.js';
import { initBody, markFailed, reviveIfAlive } from '../pause/revival.js';
import type { SnapshotStore } from '../pause/snapshot-store.js';
import type { SnapshotStaging } from './snapshot-template-store.js';
import type { SnapshotTemplateMetadata } from './snapshot-template-types.js';
import { phaseTimer } from '../phase-timer.js';

export async function takeSnapshot(
  kit: CapsuleKit,
  pauseSnapshots: SnapshotStore,
  capsule: LiveCapsule,
  name: string,
  staging: SnapshotStaging,
  signal: AbortSignal,
): Promise<SnapshotTemplateMetadata> {
  const { record } = capsule;
  const log = kit.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId, template: name });
  const started = Date.now();
  const { phases, mark } = phaseTimer();
  const baseName = record.baseTemplate ?? record.template;
  const base = await kit.templates.get(baseName);
  let frozen = false;
  let dumped: CheckpointResult | undefined;
  try {
    if (!capsule.envd) throw new WrennError('internal', `capsule ${record.id} has no envd connection`);
    await capsule.envd.prepareSnapshot(AbortSignal.any([signal, AbortSignal.timeout(kit.settings.snapshotPrepareTimeoutMs)]));
    mark('prepareMs');
    // As for a pause: envd sees the agent's connections close before the dump; in the
    // capsules made from the image there is nothing of them left to close.
    capsule.envd.close();
    delete capsule.envd;
    frozen = true;
    await kit.runtime.freeze(record.runtimeId, { closedPort: kit.envd.port });
    mark('freezeMs');
    await kit.disk.copyMounted(capsuleDir(kit, record.runtimeId), staging.diskImage, signal);
    mark('diskCopyMs');
    dumped = await checkpointSandbox(kit, record.runtimeId, { imageDir: staging.memoryDir, tcpEstablished: true, leaveRunning: true, signal });
    mark('checkpointMs');
    // CRIU leaves a cgroup it found frozen frozen; a runtime whose dump thawed it anyway
    // answers "not paused", which is as good.
    await kit.runtime.thaw(record.runtimeId).catch((err: unknown) => {
      if (!(isWrennError(err) && err.code === 'failed_precondition')) throw err;
    });
    frozen = false;
    mark('thawMs');
    const envd = kit.envd.connect(record.address, record.envdAccessToken);
    try {
      await envd.init(initBody(record), AbortSignal.any([signal, AbortSignal.timeout(kit.settings.snapshotPrepareTimeoutMs)]));
    } catch (err) {
      envd.close();
      throw err;
    }
    capsule.envd = envd;
    mark('initMs');
  } catch (err) {
    const reason = `snapshot ${name} failed: ${(err as Error).message}`;
    log.warn({ err: (err as Error).message, frozen, ...phases }, 'snapshot failed; bringing the capsule back');
    await kit.disk.thaw(capsuleDir(kit, record.runtimeId)).catch(() => {});
    if (!(await reviveIfAlive(kit, capsule))) await markFailed(kit, pauseSnapshots, capsule, reason);
    throw isWrennError(err) ? err : new WrennError('internal', reason, { capsuleId: record.id }, { cause: err });
  }
  const [memoryBytes, diskBytes] = await Promise.all([dirBytes(staging.memoryDir), kit.disk.allocatedBytes(staging.diskImage)]);
  log.info({ ...phases, memoryBytes, diskBytes, durationMs: Date.now() - started }, 'snapshot taken');
  return {
    version: 1,
    kind: 'snapshot',
    name,
    hostId: kit.host.hostId,
    sourceCapsuleId: record.id,
    baseTemplate: base.name,
    baseTemplateCreatedAt: base.createdAt,
    vcpus: record.vcpus,
    memoryMb: record.memoryMb,
    diskSizeBytes: record.diskSizeBytes,
    egress: record.egress,
    defaultUser: record.defaultUser,
    ...(record.workdir ? { workdir: record.workdir } : {}),
    envs: record.envs,
    metadata: record.metadata,
    envdAccessToken: record.envdAccessToken,
    createdAtMs: Date.now(),
    memoryBytes,
    diskBytes,
    ...(kit.host.pause.criuVersion ? { criuVersion: kit.host.pause.criuVersion } : {}),
    ...(dumped?.socketsNeedNetwork === false ? { socketsNeedNetwork: false } : {}),
  };
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir)) {
    const st = await stat(join(dir, entry)).catch(() => undefined);
    if (st?.isFile()) total += st.size;
  }
  return total;
}

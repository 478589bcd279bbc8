/**
 * Starting a capsule from a snapshot template (status `starting`, already holding its own
 * network slot): its own copy of the template's disk, mounted over the template's base
 * layer; the template's memory restored into a new sandbox (new id, new cgroup), with
 *  - the veth plumbed at the new capsule's address while CRIU waits between namespaces and
 *    processes (the netns comes back from the image with only `lo`),
 *  - the connections of the original closed (CRIU tcp-close),
 *  - the new capsule's hostname;
 * then envd /init with the new id, token, envs and metadata (docs/decisions.md#e3: it re-reads them, closes
 * the connections from before the snapshot and restarts its port scanner).
 *
 * The image is shared by every capsule made from the template and only read; each restore
 * writes its logs and sockets into its own capsule dir. Every step registers its undo first:
 * a failure leaves nothing behind, the record included.
 */
import { join } from 'node:path';
import { DisposableStack, WrennError, isWrennError } from '@wrenn/shared';
import type { CapsuleRecord } from '../capsule-record.js';
import { capsuleDir as capsuleDirOf, hostnameOf, runtimeSpec, type CapsuleKit } from '../capsules/kit.js';
import { prepareBundle, writeIdentityFiles } from '../capsules/launch.js';
import type { EnvdClient, NetworkSlot, TemplateInfo } from '../ports.js';
import { restoreSandbox } from '../pause/criu-ops.js';
import { restoreNetwork } from '../pause/restore-network.js';
import { initBody } from '../pause/revival.js';
import type { SnapshotTemplateMetadata } from './snapshot-template-types.js';
import { phaseTimer } from '../phase-timer.js';

/** Where a template's files are. */
export interface SnapshotSource {
  meta: SnapshotTemplateMetadata;
  memoryDir: string;
  diskImage: string;
  /** Its base template (the overlay's lower layer). */
  base: TemplateInfo;
}

export interface LaunchedFromSnapshot {
  envd: EnvdClient;
  lazy: boolean;
}

/** Subdirectory of the capsule dir where its restore writes CRIU's logs and sockets. */
export const RESTORE_WORK_DIR = 'criu-restore';

/**
 * Resolves with envd initialised; rejects having undone everything. `onRestored` receives
 * the restore's `pagesLoaded` as soon as the sandbox exists (the image must stay until it
 * settles, also when a later step fails).
 */
export async function launchFromSnapshot(
  kit: CapsuleKit,
  record: CapsuleRecord,
  source: SnapshotSource,
  slot: NetworkSlot,
  onRestored: (pagesLoaded: Promise<void>) => void,
  signal?: AbortSignal,
): Promise<LaunchedFromSnapshot> {
  const log = kit.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId, template: source.meta.name });
  const started = Date.now();
  const { phases, mark } = phaseTimer();
  const undo = new DisposableStack();
  try {
    await kit.registry.save(record);
    undo.defer(() => kit.registry.store.remove(record.runtimeId));
    const capsuleDir = capsuleDirOf(kit, record.runtimeId);
    undo.defer(() => kit.rootfs.remove(capsuleDir));
    await prepareBundle(kit, record.runtimeId);
    await kit.disk.adopt(source.diskImage, capsuleDir, signal);
    const rootfs = await kit.rootfs.mountExisting({ capsuleDir, template: source.base, ...(signal ? { signal } : {}) });
    await writeIdentityFiles(rootfs.mergedDir, hostnameOf(record), kit.settings.uidBase);
    mark('diskMs');

    undo.defer(() => kit.runtime.delete(record.runtimeId, { force: true }));
    const spec = runtimeSpec(kit, record, rootfs.mergedDir);
    const { restored, lazy, network } = await restoreSandbox(
      kit,
      spec,
      kit.host.pause.lazyPages,
      () => restoreNetwork(kit, slot, record, signal),
      {
        imageDir: source.memoryDir,
        workDir: join(capsuleDir, RESTORE_WORK_DIR),
        tcpClose: true,
        socketsNeedNetwork: source.meta.socketsNeedNetwork ?? true,
        hostname: hostnameOf(record),
        ...(signal ? { signal } : {}),
      },
      undo,
      log,
    );
    onRestored(restored.pagesLoaded);
    await network.ready();
    mark('restoreMs');

    // envd still holds the token of the capsule the snapshot was taken of until this /init.
    const envd = kit.envd.connect(record.address, source.meta.envdAccessToken);
    undo.defer(() => envd.close());
    await envd.init(initBody(record), signal);
    mark('initMs');
    log.info({ ...phases, lazy, address: record.address, durationMs: Date.now() - started }, 'capsule started from snapshot template');
    return { envd, lazy };
  } catch (err) {
    log.warn({ err: (err as Error).message, ...phases, durationMs: Date.now() - started }, 'start from snapshot template failed; undoing');
    await undo.dispose().catch((cleanupErr: unknown) => log.error({ err: (cleanupErr as Error).message }, 'cleanup after a failed start was incomplete'));
    if (isWrennError(err)) throw err;
    throw new WrennError('internal', `capsule ${record.id} failed to start from snapshot template ${source.meta.name}: ${(err as Error).message}`, {
      capsuleId: record.id,
    }, { cause: err });
  }
}

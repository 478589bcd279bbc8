/**
 * Resuming a paused capsule (status `resuming` is set by the caller): its disk mounted
 * again, then either its memory restored (`runc restore` into the same bundle and id, lazy
 * pages where enabled) or a cold start of the same disk, the veth plumbed again at the
 * same address, envd /init (docs/decisions.md#e3: after a restore it closes the connections from before the
 * snapshot and restarts its port scanner), watchers restarted → `running`.
 *
 * Failure before the restored processes ran leaves the capsule `paused` with its snapshot
 * intact (resume can be retried). After they ran, memory and disk have moved on from the
 * snapshot: the capsule is marked error rather than rolled back.
 */
import { DisposableStack, WrennError, isWrennError } from '@wrenn/shared';
import type { RestoredSandbox } from '../../infra/runtime/runtime.js';
import { attachVolumes, capsuleDir as capsuleDirOf, plumbOptions, runtimeSpec, type CapsuleKit } from '../capsules/kit.js';
import type { LiveCapsule } from '../capsules/registry.js';
import { restoreSandbox } from './criu-ops.js';
import { restoreNetwork } from './restore-network.js';
import { initBody, markFailed } from './revival.js';
import type { SnapshotStore } from './snapshot-store.js';
import { phaseTimer } from '../phase-timer.js';

export interface ResumeResult {
  /** Resolves once the whole memory is loaded (lazy restore); the image can go then. */
  pagesLoaded: Promise<void>;
  lazy: boolean;
}

export async function resumeCapsule(
  kit: CapsuleKit,
  snapshots: SnapshotStore,
  capsule: LiveCapsule,
  signal: AbortSignal,
  image: { socketsNeedNetwork: boolean } = { socketsNeedNetwork: true },
): Promise<ResumeResult> {
  const { record } = capsule;
  const kind = record.pauseKind ?? 'filesystem';
  const log = kit.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId, kind });
  const started = Date.now();
  const { phases, mark } = phaseTimer();
  const undo = new DisposableStack();
  let processesRan = false;
  let restored: RestoredSandbox | undefined;
  let lazy = false;
  let mounted: Promise<unknown> = Promise.resolve();
  try {
    const template = await kit.templates.get(record.baseTemplate ?? record.template);
    const capsuleDir = capsuleDirOf(kit, record.runtimeId);
    undo.defer(() => kit.rootfs.unmount(capsuleDir));
    // A memory restore prepares itself (page server, hook) while the disk is being mounted.
    mounted = kit.rootfs.mountExisting({ capsuleDir, template, signal }).finally(() => mark('mountMs'));
    mounted.catch(() => {}); // awaited below (or by the restore)
    // After a host reboot the volumes are not mounted any more: the restore binds them in.
    await attachVolumes(kit, record, signal);
    const spec = runtimeSpec(kit, record, kit.rootfs.rootfsDirOf(capsuleDir));
    const slot = kit.network.slot(record.netSlot);
    let pid: number;
    if (kind === 'memory') {
      const imageDir = snapshots.memoryDir(record.runtimeId);
      lazy = kit.host.pause.lazyPages;
      undo.defer(() => kit.runtime.delete(record.runtimeId, { force: true }));
      // Plumbed from the moment CRIU has made the namespaces: while it waits there if the
      // image has sockets that need their address and route (established connections),
      // else while it restores the processes.
      const attempt = await restoreSandbox(
        kit,
        spec,
        lazy,
        () => restoreNetwork(kit, slot, record, signal),
        { imageDir, tcpEstablished: true, socketsNeedNetwork: image.socketsNeedNetwork, rootfsReady: mounted, signal },
        undo,
        log,
      );
      ({ restored, lazy } = attempt);
      processesRan = true;
      pid = restored.pid;
      mark('restoreMs');
      await attempt.network.ready();
    } else {
      await mounted;
      undo.defer(() => kit.runtime.delete(record.runtimeId, { force: true }));
      pid = (await kit.runtime.run(spec, signal)).pid;
      processesRan = true;
      mark('startMs');
      undo.defer(() => kit.network.unplumb(slot));
      await kit.network.plumb(slot, pid, plumbOptions(kit, record), signal);
    }
    mark('networkMs');
    const envd = kit.envd.connect(record.address, kind === 'memory' ? record.envdAccessToken : undefined);
    undo.defer(() => envd.close());
    if (kind === 'filesystem') await envd.waitHealthy(kit.settings.envdStartTimeoutMs, signal);
    await envd.init(initBody(record), signal);
    mark('initMs');
    capsule.envd?.close();
    capsule.envd = envd;
  } catch (err) {
    log.warn({ err: (err as Error).message, ...phases, processesRan }, 'resume failed');
    // Never unmount under a mount still in progress.
    await mounted.catch(() => {});
    await undo.dispose().catch((cleanupErr: unknown) => log.error({ err: (cleanupErr as Error).message }, 'undoing a failed resume was incomplete'));
    if (processesRan) {
      await markFailed(kit, snapshots, capsule, `resume failed after the capsule's processes started: ${(err as Error).message}`);
    } else {
      kit.registry.transition(capsule, 'resuming', 'paused');
      await kit.registry.save(record);
    }
    throw isWrennError(err) ? err : new WrennError('internal', `resume of capsule ${record.id} failed: ${(err as Error).message}`, { capsuleId: record.id }, { cause: err });
  }
  kit.registry.transition(capsule, 'resuming', 'running');
  await kit.registry.save(record);
  kit.watchers.start(capsule);
  log.info({ ...phases, lazy, durationMs: Date.now() - started }, 'capsule resumed');
  return { pagesLoaded: restored?.pagesLoaded ?? Promise.resolve(), lazy };
}

/**
 * Pausing a running capsule, in the order of docs/decisions.md#h1: (status `pausing` is set by the caller) →
 * metrics stopped → proxied connections drained → envd /snapshot/prepare → the capsule's
 * processes dumped with their memory (`memory`) or stopped (`filesystem`) → metadata
 * written (docs/decisions.md#h5) → `paused`; then, after the reply, the network unplumbed (the slot, hence
 * the address, stays reserved) and the rootfs unmounted (the disk image stays).
 *
 * Any failure before the processes are gone revives the capsule or marks it error
 * (revival.ts). Once they are gone the pause has succeeded: later release steps that fail
 * are logged, and a resume or the next agent start finishes them.
 */
import { WrennError, isWrennError, sleep } from '@wrenn/shared';
import type { CheckpointResult } from '../../infra/runtime/runtime.js';
import type { CapsuleRecord, PauseKind } from '../capsule-record.js';
import { capsuleDir, type CapsuleKit } from '../capsules/kit.js';
import type { LiveCapsule } from '../capsules/registry.js';
import { checkpointSandbox } from './criu-ops.js';
import { markFailed, reviveIfAlive } from './revival.js';
import type { SnapshotMetadata, SnapshotStore } from './snapshot-store.js';
import { phaseTimer } from '../phase-timer.js';

/** How long after the pause's reply the release of its host resources starts. */
const RELEASE_AFTER_MS = 10;

/** How long a filesystem pause lets processes exit on SIGTERM before killing them. */
const STOP_GRACE_MS = 2_000;

export function snapshotMetadata(
  kit: Pick<CapsuleKit, 'host' | 'registry'>,
  record: CapsuleRecord,
  kind: PauseKind,
  imageBytes: number,
  dump: { socketsNeedNetwork?: boolean } = {},
): SnapshotMetadata {
  return {
    version: 1,
    kind,
    hostId: kit.host.hostId,
    capsuleId: record.id,
    runtimeId: record.runtimeId,
    template: record.template,
    vcpus: record.vcpus,
    memoryMb: record.memoryMb,
    diskSizeBytes: record.diskSizeBytes,
    diskImage: `${capsuleDir(kit, record.runtimeId)}/upper.ext4`,
    netSlot: record.netSlot,
    address: record.address,
    egress: record.egress,
    envdAccessToken: record.envdAccessToken,
    envs: record.envs,
    metadata: record.metadata,
    defaultUser: record.defaultUser,
    ...(record.workdir ? { workdir: record.workdir } : {}),
    createdAtMs: record.createdAtMs,
    expiresAtMs: record.expiresAtMs,
    pausedAtMs: record.pausedAtMs ?? Date.now(),
    imageBytes,
    ...(kind === 'memory' && kit.host.pause.criuVersion ? { criuVersion: kit.host.pause.criuVersion } : {}),
    // Recorded only when known to be false: an image of unknown make is restored the safe way.
    ...(kind === 'memory' && dump.socketsNeedNetwork === false ? { socketsNeedNetwork: false } : {}),
  };
}

export interface PauseOutcome {
  /** Resolves once the paused capsule's host resources are released (never rejects). */
  released: Promise<void>;
}

/**
 * Takes the capsule (status `pausing`, watchers running) to `paused`, or back to `running`
 * / to `error` on failure, then rethrows the failure.
 */
export async function pauseCapsule(
  kit: CapsuleKit,
  snapshots: SnapshotStore,
  capsule: LiveCapsule,
  kind: PauseKind,
  signal: AbortSignal,
): Promise<PauseOutcome> {
  const { record } = capsule;
  const log = kit.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId, kind });
  const started = Date.now();
  const { phases, mark } = phaseTimer();
  kit.watchers.stop(capsule);
  let dump: CheckpointResult | undefined;
  try {
    await snapshots.prepare(record.runtimeId);
    mark('setupMs');
    if (kit.connections) await kit.connections.drain(record.id, kit.settings.pauseDrainGraceMs, signal);
    mark('drainMs');
    await prepareEnvd(kit, capsule, kind, signal);
    mark('prepareMs');
    // Every agent→envd connection goes now (streams of callers included): envd sees them
    // close before the dump instead of finding them half-open after the restore.
    capsule.envd?.close();
    delete capsule.envd;
    if (kind === 'memory') {
      // Frozen by the runtime first: CRIU's own freeze of a cgroup v1 freezer sleeps 100 ms
      // before it looks again; a cgroup it finds frozen it dumps at once. Once envd has
      // closed its ends of the connections closed above: half-closed ones in the image
      // would make the restore lock the network.
      await kit.runtime.freeze(record.runtimeId, { closedPort: kit.envd.port });
      mark('freezeMs');
      dump = await checkpointSandbox(kit, record.runtimeId, { imageDir: snapshots.memoryDir(record.runtimeId), tcpEstablished: true, signal });
      mark('checkpointMs');
    } else {
      await stopProcesses(kit, record.runtimeId);
      mark('stopMs');
    }
  } catch (err) {
    const reason = `pause failed: ${(err as Error).message}`;
    log.warn({ err: (err as Error).message, ...phases }, 'pause failed; reviving the capsule');
    await snapshots.remove(record.runtimeId).catch(() => {});
    if (!(await reviveIfAlive(kit, capsule))) await markFailed(kit, snapshots, capsule, reason);
    else log.info({ durationMs: Date.now() - started }, 'capsule running again after the failed pause');
    throw isWrennError(err) ? err : new WrennError('internal', reason, { capsuleId: record.id }, { cause: err });
  }
  // The snapshot is complete and the processes are gone: the capsule is paused. What is
  // left (runtime state, veth rules, mounts: ~50 ms) is released after the reply; the
  // controller makes the capsule's next operation wait for it, and an agent that stops
  // meanwhile finds a paused capsule whose recovery releases them again.
  const imageBytes = kind === 'memory' ? await snapshots.memoryBytes(record.runtimeId) : 0;
  kit.registry.transition(capsule, 'pausing', 'paused');
  record.pauseKind = kind;
  record.pausedAtMs = Date.now();
  await snapshots.writeMetadata(snapshotMetadata(kit, record, kind, imageBytes, dump));
  await kit.registry.save(record);
  mark('metadataMs');
  log.info({ ...phases, imageBytes, socketsNeedNetwork: dump?.socketsNeedNetwork, durationMs: Date.now() - started }, 'capsule paused');
  // Started a moment later, once the reply is on its way: the RPC server writes it over
  // the next few turns of the event loop, and each child process of the release blocks the
  // loop while it is spawned (milliseconds, growing with the agent's memory). Measured:
  // started at once, the release held the reply back by 15–20 ms.
  const released = sleep(RELEASE_AFTER_MS).then(async () => {
    const releaseStarted = Date.now();
    const steps = await releaseHostResources(kit, record, log, { processesGone: true });
    log.info({ ...steps, releaseMs: Date.now() - releaseStarted }, 'paused capsule released');
  });
  return { released };
}

/**
 * envd quiesces (docs/decisions.md#e3): port scanner stopped, idle connections closed, disk synced, caches
 * dropped (docs/decisions.md#h7: the dump then holds used memory, not cache). Its own deadline (docs/decisions.md#h4). For a
 * filesystem pause this is only a courtesy (the processes are stopped anyway): a failure
 * there does not fail the pause.
 */
async function prepareEnvd(kit: CapsuleKit, capsule: LiveCapsule, kind: PauseKind, signal: AbortSignal): Promise<void> {
  if (!capsule.envd) throw new WrennError('internal', `capsule ${capsule.record.id} has no envd connection`);
  const deadline = AbortSignal.any([signal, AbortSignal.timeout(kit.settings.snapshotPrepareTimeoutMs)]);
  try {
    await capsule.envd.prepareSnapshot(deadline);
  } catch (err) {
    if (kind === 'memory') {
      throw new WrennError('unavailable', `envd did not prepare for the snapshot: ${(err as Error).message}`, { capsuleId: capsule.record.id });
    }
    kit.logger.warn({ capsuleId: capsule.record.id, err: (err as Error).message }, 'envd prepare failed; stopping the capsule anyway');
  }
}

/** SIGTERM to every process, a short grace, then the runtime removes the sandbox (SIGKILL). */
async function stopProcesses(kit: Pick<CapsuleKit, 'runtime'>, runtimeId: string): Promise<void> {
  await kit.runtime.kill(runtimeId, 'SIGTERM', { all: true }).catch(() => {});
  const deadline = Date.now() + STOP_GRACE_MS;
  while (Date.now() < deadline) {
    const state = await kit.runtime.state(runtimeId).catch(() => undefined);
    if (!state || state.status === 'stopped') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  await kit.runtime.delete(runtimeId, { force: true });
}

/**
 * The processes are gone: their netns (and the veth inside it) went with them. What is
 * left on the host is the veth's rules, the runtime's state and the mounts. Failures are
 * logged, not thrown: the snapshot is complete, and resume or recovery redo these steps.
 * Resolves to each step's milliseconds (for the pause's log record).
 */
export async function releaseHostResources(
  kit: CapsuleKit,
  record: CapsuleRecord,
  log = kit.logger,
  opts: { processesGone?: boolean } = {},
): Promise<Record<string, number>> {
  const times: Record<string, number> = {};
  const step = (name: string, fn: () => Promise<unknown>) => {
    const t0 = Date.now();
    return fn()
      .catch((err: unknown) => log.warn({ capsuleId: record.id, step: name, err: (err as Error).message }, 'releasing a paused capsule’s resources failed'))
      .finally(() => {
        times[`release_${name}Ms`] = Date.now() - t0;
      });
  };
  const runtime = () => step('runtime', () => kit.runtime.delete(record.runtimeId, { force: true }));
  const rest = () =>
    Promise.all([
      step('network', () => kit.network.unplumb(kit.network.slot(record.netSlot))),
      step('rootfs', () => kit.rootfs.unmount(capsuleDir(kit, record.runtimeId))),
    ]);
  // After a complete dump the processes are gone (CRIU ended them): nothing depends on the
  // runtime's cleanup. Otherwise they may linger, and must go before the mounts do.
  if (opts.processesGone) await Promise.all([runtime(), rest()]);
  else await runtime().then(rest);
  return times;
}

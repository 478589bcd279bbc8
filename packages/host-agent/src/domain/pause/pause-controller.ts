/**
 * Pause, resume and snapshot cleanup for the capsule manager. The manager serialises every
 * call per capsule (docs/decisions.md#h2) and owns the records; this class owns what lives beside them: the
 * snapshots on disk and the lazy-restore page servers still loading a capsule's memory.
 *
 * @example
 * const pauser = new PauseController(kit);
 * await pauser.pause(live, undefined, signal); // memory where supported
 * await pauser.resume(live, signal);
 */
import { WrennError } from '@wrenn/shared';
import type { CapsuleRecord, PauseKind } from '../capsule-record.js';
import type { CapsuleKit } from '../capsules/kit.js';
import type { LiveCapsule } from '../capsules/registry.js';
import type { PauseHostSupport } from '../ports.js';
import { pauseCapsule } from './pause-capsule.js';
import { recoverPauseState, type RecoveredAs } from './pause-recovery.js';
import { resumeCapsule } from './resume-capsule.js';
import { SnapshotStore, type SnapshotMetadata } from './snapshot-store.js';

/** Default deadline of a pause or resume when the caller gives none (docs/decisions.md#h4: generous). */
export const DEFAULT_PAUSE_TIMEOUT_MS = 10 * 60_000;

export class PauseController {
  readonly snapshots: SnapshotStore;
  /** Lazy restores still loading memory, by runtime id: the image must outlive them. */
  private readonly loading = new Map<string, Promise<void>>();
  /** Paused capsules whose host resources are still being released, by runtime id. */
  private readonly releasing = new Map<string, Promise<void>>();

  constructor(private readonly kit: CapsuleKit) {
    this.snapshots = new SnapshotStore(kit.settings.snapshotDir);
  }

  get support(): PauseHostSupport {
    return this.kit.host.pause;
  }

  /** The kind a pause takes: the one asked for, else memory where the host can, else filesystem. */
  kindFor(requested: PauseKind | undefined): PauseKind {
    if (requested === 'memory' && !this.support.memory) {
      throw new WrennError('failed_precondition', 'this host cannot take memory snapshots (criu check fails); pause with kind filesystem', {
        kind: requested,
      });
    }
    return requested ?? (this.support.memory ? 'memory' : 'filesystem');
  }

  /** A running capsule → paused (or back to running / error, rethrowing the failure). */
  async pause(capsule: LiveCapsule, requested: PauseKind | undefined, signal?: AbortSignal): Promise<void> {
    const { record } = capsule;
    const kind = this.kindFor(requested);
    // A lazy restore still loading this capsule's memory reads the image we would replace.
    await this.loading.get(record.runtimeId);
    this.kit.registry.transition(capsule, 'running', 'pausing');
    record.pauseKind = kind;
    await this.kit.registry.save(record);
    const { released } = await pauseCapsule(this.kit, this.snapshots, capsule, kind, signal ?? AbortSignal.timeout(DEFAULT_PAUSE_TIMEOUT_MS));
    track(this.releasing, record.runtimeId, released);
  }

  /** A paused capsule → running (or back to paused / error, rethrowing the failure). */
  async resume(capsule: LiveCapsule, signal?: AbortSignal): Promise<void> {
    const { record } = capsule;
    const meta = record.pauseKind === 'memory' ? await this.snapshotFromThisHost(record) : undefined;
    // The pause's release must be over before the resume mounts and plumbs the same slot.
    await this.releasedFor(record.runtimeId);
    this.kit.registry.transition(capsule, 'paused', 'resuming');
    await this.kit.registry.save(record);
    const { pagesLoaded } = await resumeCapsule(this.kit, this.snapshots, capsule, signal ?? AbortSignal.timeout(DEFAULT_PAUSE_TIMEOUT_MS), {
      socketsNeedNetwork: meta?.socketsNeedNetwork ?? true,
    });
    const cleanup = pagesLoaded
      .then(() => this.snapshots.removeMemory(record.runtimeId))
      .catch((err: unknown) => this.kit.logger.warn({ capsuleId: record.id, err: (err as Error).message }, 'removing a restored image failed'))
      .finally(() => this.loading.delete(record.runtimeId));
    this.loading.set(record.runtimeId, cleanup);
  }

  /**
   * A capsule whose memory is still being loaded from an image it does not own (started
   * from a snapshot template with lazy pages): a pause waits for it, like after a resume.
   */
  trackLoading(runtimeId: string, pagesLoaded: Promise<void>): void {
    track(this.loading, runtimeId, pagesLoaded);
  }

  /** After an agent start, for records in pausing, paused or resuming. */
  recover(capsule: LiveCapsule): Promise<RecoveredAs> {
    return recoverPauseState(this.kit, this.snapshots, capsule);
  }

  /** Deletes a capsule's snapshot (destroy). Waits for a lazy restore still reading it. */
  async discard(runtimeId: string): Promise<void> {
    await Promise.all([this.loading.get(runtimeId), this.releasing.get(runtimeId)]);
    await this.snapshots.remove(runtimeId);
  }

  /** Snapshots whose capsule no longer exists (destroyed while the agent was down, crashed creates). */
  async removeOrphans(knownRuntimeIds: ReadonlySet<string>): Promise<string[]> {
    const orphans = (await this.snapshots.list()).filter((id) => !knownRuntimeIds.has(id));
    for (const id of orphans) await this.snapshots.remove(id);
    if (orphans.length > 0) this.kit.logger.info({ orphans }, 'removed snapshots of capsules that no longer exist');
    return orphans;
  }

  /** Resolves once a lazy restore of this capsule (if any) has loaded all its memory, and a pause's release (if any) is over. */
  async settledFor(runtimeId: string): Promise<void> {
    await Promise.all([this.loading.get(runtimeId), this.releasing.get(runtimeId)]);
  }

  /** Resolves once the host resources of this capsule's last pause (if any) are released. */
  async releasedFor(runtimeId: string): Promise<void> {
    await this.releasing.get(runtimeId);
  }

  /** Lazy restores still loading memory and pauses still releasing (tests and shutdown). */
  async settled(): Promise<void> {
    await Promise.all([...this.loading.values(), ...this.releasing.values()]);
  }

  /** Pauses still releasing their capsules' host resources (agent shutdown). */
  async released(): Promise<void> {
    await Promise.all(this.releasing.values());
  }

  /** The snapshot's metadata (if any), refused when it was taken on another host. */
  private async snapshotFromThisHost(record: CapsuleRecord): Promise<SnapshotMetadata | undefined> {
    const meta = await this.snapshots.readMetadata(record.runtimeId);
    if (meta && meta.hostId !== this.kit.host.hostId) {
      throw new WrennError(
        'failed_precondition',
        `capsule ${record.id}'s memory snapshot was taken on host ${meta.hostId}, not on this host (${this.kit.host.hostId}); it can only resume there`,
        { capsuleId: record.id, snapshotHost: meta.hostId },
      );
    }
    return meta;
  }
}

/** Keeps `work` under `key` until it settles (failures are the work's own to log). */
function track(map: Map<string, Promise<void>>, key: string, work: Promise<void>): void {
  const entry: Promise<void> = work
    .catch(() => {})
    .finally(() => {
      if (map.get(key) === entry) map.delete(key);
    });
  map.set(key, entry);
}

/**
 * Snapshot templates for the capsule manager: take one from a running capsule, start
 * capsules from one, list and delete them. The manager serialises per capsule (docs/decisions.md#h2); this
 * class serialises per template name and counts the capsules being created from each
 * template — until their memory is fully loaded (lazy restore reads the image) — so a
 * template in use is never deleted or replaced under them.
 *
 * @example
 * const snaps = new SnapshotTemplates(kit); // under kit.settings.snapshotTemplateDir
 * const info = await snaps.take(capsule, 'my-app', { overwrite: false }, pauseSnapshots, signal);
 * const source = await snaps.acquire('my-app'); // then launchFromSnapshot(...), snaps.release(...)
 */
import { randomBytes } from 'node:crypto';
import { KeyedQueue, WrennError, isWrennError, sleep } from '@wrenn/shared';
import { dumpOutcome } from '../../infra/criu/dump-log.js';
import { assertValidTemplateName } from '../../infra/template/metadata.js';
import { markFailed, reviveIfAlive } from '../pause/revival.js';
import { capsuleDir, type CapsuleKit } from '../capsules/kit.js';
import type { LiveCapsule } from '../capsules/registry.js';
import type { SnapshotStore } from '../pause/snapshot-store.js';
import type { SnapshotSource } from './create-from-snapshot.js';
import { SnapshotTemplateStore, alreadyExists, toSnapshotInfo } from './snapshot-template-store.js';
import type { SnapshotTemplateInfo } from './snapshot-template-types.js';
import { takeSnapshot } from './take-snapshot.js';

/** How long recovery waits for a dump the previous agent started to end. */
const DUMP_WAIT_MS = 120_000;

export class SnapshotTemplates {
  readonly store: SnapshotTemplateStore;
  private readonly names = new KeyedQueue();
  /** Template name → capsules being created from it (memory not fully loaded yet). */
  private readonly users = new Map<string, number>();

  constructor(private readonly kit: CapsuleKit) {
    this.store = new SnapshotTemplateStore(kit.settings.snapshotTemplateDir);
  }

  /** The snapshot template called `name`, if there is one (a base template or nothing: undefined). */
  async find(name: string): Promise<SnapshotTemplateInfo | undefined> {
    assertValidTemplateName(name);
    const meta = await this.store.readMetadata(name);
    return meta ? toSnapshotInfo(meta) : undefined;
  }

  async list(): Promise<SnapshotTemplateInfo[]> {
    return (await this.store.list()).map(toSnapshotInfo);
  }

  /** A name for a snapshot the caller did not name. */
  static generatedName(capsuleId: string): string {
    const stem = capsuleId.toLowerCase().replace(/[^a-z0-9._-]/g, '-').replace(/^[^a-z0-9]+/, '').slice(0, 40);
    return `${stem || 'capsule'}-snap-${randomBytes(3).toString('hex')}`;
  }

  /**
   * Saves the running capsule (status `snapshotting`) as template `name`; the capsule is
   * running again when this returns or throws (or error, if it could not be brought back).
   */
  async take(
    capsule: LiveCapsule,
    name: string,
    opts: { overwrite: boolean },
    pauseSnapshots: SnapshotStore,
    signal: AbortSignal,
  ): Promise<SnapshotTemplateInfo> {
    assertValidTemplateName(name);
    // Refused before the capsule is touched; checked again at install (names are not locked meanwhile).
    await this.assertNameFree(name, opts.overwrite);
    const staging = await this.store.createStaging(name);
    try {
      const meta = await takeSnapshot(this.kit, pauseSnapshots, capsule, name, staging, signal);
      await this.names.run(name, async () => {
        await this.assertNameFree(name, opts.overwrite);
        this.assertUnused(name, 'replaced');
        await this.store.install(staging, meta, opts.overwrite);
      });
      this.kit.logger.info({ template: name, capsuleId: capsule.record.id, overwrite: opts.overwrite }, 'snapshot template saved');
      return toSnapshotInfo(meta);
    } catch (err) {
      await this.store.discardStaging(staging).catch(() => {});
      throw err;
    }
  }

  /**
   * Marks one more capsule as being created from `name` and returns where its files are.
   * Pair with `release(name, pagesLoaded)`.
   */
  async acquire(name: string): Promise<SnapshotSource> {
    return this.names.run(name, async () => {
      const meta = await this.store.readMetadata(name);
      if (!meta) throw new WrennError('template_not_found', `template ${name} does not exist`, { template: name });
      if (meta.hostId !== this.kit.host.hostId) {
        throw new WrennError('failed_precondition', `snapshot template ${name} was taken on host ${meta.hostId}; it can only start capsules there`, {
          template: name,
        });
      }
      const base = await this.kit.templates.get(meta.baseTemplate);
      if (base.createdAt !== meta.baseTemplateCreatedAt) {
        throw new WrennError(
          'failed_precondition',
          `snapshot template ${name} sits on base template ${meta.baseTemplate} as it was built at ${meta.baseTemplateCreatedAt}; that template was rebuilt since (${base.createdAt}): take the snapshot again`,
          { template: name, baseTemplate: meta.baseTemplate },
        );
      }
      this.users.set(name, (this.users.get(name) ?? 0) + 1);
      return { meta, memoryDir: this.store.memoryDir(name), diskImage: this.store.diskImage(name), base };
    });
  }

  /** The capsule no longer needs the template once `pagesLoaded` settled (at once when omitted). */
  release(name: string, pagesLoaded: Promise<void> = Promise.resolve()): void {
    void pagesLoaded
      .catch(() => {})
      .finally(() => {
        const left = (this.users.get(name) ?? 1) - 1;
        if (left > 0) this.users.set(name, left);
        else this.users.delete(name);
      });
  }

  /** Deletes a snapshot template; refused while capsules are being created from it. */
  async delete(name: string): Promise<void> {
    assertValidTemplateName(name);
    await this.names.run(name, async () => {
      this.assertUnused(name, 'deleted');
      await this.store.remove(name);
    });
    this.kit.logger.info({ template: name }, 'snapshot template deleted');
  }

  /**
   * After an agent start: snapshots that were being taken are deleted, once any dump the
   * previous agent started has ended (runc and CRIU outlive the agent). Returns what went.
   */
  async recoverLeftovers(): Promise<string[]> {
    for (const memoryDir of await this.store.stagingMemoryDirs()) {
      const deadline = Date.now() + DUMP_WAIT_MS;
      while ((await dumpOutcome(memoryDir)) === 'in-progress' && Date.now() < deadline) await sleep(100);
    }
    return this.store.removeLeftovers();
  }

  /**
   * After an agent start, a capsule that was being snapshotted: its disk thawed, then
   * running again if it still can (thawed, envd re-initialised), else released and error.
   */
  async recoverSource(capsule: LiveCapsule, pauseSnapshots: SnapshotStore): Promise<'running' | 'error'> {
    await this.kit.disk.thaw(capsuleDir(this.kit, capsule.record.runtimeId)).catch(() => {});
    if (await reviveIfAlive(this.kit, capsule)) {
      this.kit.logger.info({ capsuleId: capsule.record.id }, 'interrupted snapshot undone: capsule running');
      return 'running';
    }
    await markFailed(this.kit, pauseSnapshots, capsule, 'the agent stopped while a snapshot of the capsule was being taken');
    return 'error';
  }

  /** Capsules being created from `name` right now. */
  usersOf(name: string): number {
    return this.users.get(name) ?? 0;
  }

  private assertUnused(name: string, what: 'deleted' | 'replaced'): void {
    const users = this.usersOf(name);
    if (users > 0) {
      throw new WrennError(
        'failed_precondition',
        `snapshot template ${name} cannot be ${what} while ${users} capsule(s) are being created from it; try again when they are running`,
        { template: name, users },
      );
    }
  }

  private async assertNameFree(name: string, overwrite: boolean): Promise<void> {
    const base = await this.kit.templates.get(name).then(
      () => true,
      (err: unknown) => {
        if (isWrennError(err) && err.code === 'template_not_found') return false;
        throw err;
      },
    );
    if (base) {
      throw new WrennError('already_exists', `${name} is a base template: a snapshot cannot take its name (overwrite applies to snapshot templates only)`, {
        template: name,
      });
    }
    if (!overwrite && (await this.store.exists(name))) throw alreadyExists(name);
  }
}

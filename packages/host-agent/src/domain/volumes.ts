/**
 * Volumes of this host as capsules and the content calls see them: a volume is held by the
 * one capsule that mounts it (from its Create until it is destroyed, paused included), and
 * while it is held nothing else may mount it, read or write it through the content calls,
 * or delete it (volume_in_use). Who holds a volume is read from the capsule records, so it
 * survives an agent restart.
 */
import { WrennError } from '@wrenn/shared';
import type { VolumeFiles } from '../infra/volume/volume-files.js';
import type { CapsuleRecord } from './capsule-record.js';
import type { VolumePort } from './ports.js';

/** What Volumes needs of the store (infra/volume/volume-store.ts). */
export interface VolumeBackend {
  mountDirOf(id: string): string;
  withVolume<T>(id: string, fn: () => Promise<T>): Promise<T>;
  exists(id: string): Promise<boolean>;
  create(id: string, sizeMb: number, signal?: AbortSignal): Promise<number>;
  ensureMounted(id: string, signal?: AbortSignal): Promise<string>;
  remove(id: string): Promise<void>;
  filesOf(mountDir: string): VolumeFiles;
}

export class Volumes implements VolumePort {
  constructor(
    private readonly backend: VolumeBackend,
    private readonly records: () => readonly CapsuleRecord[],
  ) {}

  mountDirOf(volumeId: string): string {
    return this.backend.mountDirOf(volumeId);
  }

  /** The capsule holding the volume, other than `except`. */
  holder(volumeId: string, except?: string): CapsuleRecord | undefined {
    return this.records().find((r) => r.id !== except && r.volumes?.some((v) => v.volumeId === volumeId));
  }

  private assertFree(volumeId: string, what: string, except?: string): void {
    const h = this.holder(volumeId, except);
    if (h) {
      throw new WrennError('volume_in_use', `cannot ${what} volume ${volumeId}: capsule ${h.id} has it mounted (one capsule at a time); kill that capsule first`, {
        volumeId,
        capsuleId: h.id,
      });
    }
  }

  async attach(volumeId: string, capsuleId: string, signal?: AbortSignal): Promise<void> {
    await this.backend.withVolume(volumeId, async () => {
      this.assertFree(volumeId, 'mount', capsuleId);
      await this.backend.ensureMounted(volumeId, signal);
    });
  }

  async create(volumeId: string, sizeMb: number, signal?: AbortSignal): Promise<number> {
    return this.backend.withVolume(volumeId, () => this.backend.create(volumeId, sizeMb, signal));
  }

  async remove(volumeId: string): Promise<void> {
    await this.backend.withVolume(volumeId, async () => {
      this.assertFree(volumeId, 'delete');
      await this.backend.remove(volumeId);
    });
  }

  /** Runs a content call on the volume's files, refused while a capsule holds it. */
  async content<T>(volumeId: string, fn: (files: VolumeFiles) => Promise<T>, signal?: AbortSignal): Promise<T> {
    return this.backend.withVolume(volumeId, async () => {
      this.assertFree(volumeId, 'read or write the files of');
      return fn(this.backend.filesOf(await this.backend.ensureMounted(volumeId, signal)));
    });
  }
}

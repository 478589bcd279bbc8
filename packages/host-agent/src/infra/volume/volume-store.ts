/**
 * Volumes on this host: each one a sparse ext4 image (`<dataDir>/volumes/<id>/volume.ext4`)
 * owned by the capsules' mapped root, mounted at `<dataDir>/volumes/<id>/mnt` while it is
 * used (by a capsule through a bind mount, or by the content calls), kept when capsules go.
 * Calls on one volume are serialised (`withVolume`), so a capsule start that takes the
 * volume and a content call never interleave.
 */
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { WrennError, type Logger } from '@wrenn/shared';
import { checkExt4, createSparseFile, formatExt4, isCleanExt4 } from '../rootfs/ext4-image.js';
import { mountExt4Image, unmountAll } from '../rootfs/mount.js';
import { readMountInfo } from '../rootfs/mountinfo.js';
import type { IdMapping } from '../runtime/runtime.js';
import { VolumeFiles } from './volume-files.js';

const ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const MiB = 1024 * 1024;
export const IMAGE_NAME = 'volume.ext4';
export const MOUNT_NAME = 'mnt';

export function validateVolumeId(id: string): void {
  if (!ID.test(id)) throw new WrennError('invalid_argument', `volume id ${JSON.stringify(id)} must be 1-63 of letters, digits, '_', '.', '-'`);
}

export class VolumeStore {
  private readonly root: string;
  private readonly queues = new Map<string, Promise<unknown>>();

  constructor(
    dataDir: string,
    readonly idMapping: IdMapping,
    private readonly logger: Logger,
  ) {
    this.root = join(dataDir, 'volumes');
  }

  dirOf(id: string): string {
    validateVolumeId(id);
    return join(this.root, id);
  }

  /** Where the volume is mounted on the host (the bind-mount source of capsules using it). */
  mountDirOf(id: string): string {
    return join(this.dirOf(id), MOUNT_NAME);
  }

  private imageOf(id: string): string {
    return join(this.dirOf(id), IMAGE_NAME);
  }

  /** Runs `fn` after every earlier call on volume `id` has settled. */
  async withVolume<T>(id: string, fn: () => Promise<T>): Promise<T> {
    const before = this.queues.get(id) ?? Promise.resolve();
    const mine = before.catch(() => {}).then(fn);
    const tail = mine.catch(() => {});
    this.queues.set(id, tail);
    try {
      return await mine;
    } finally {
      if (this.queues.get(id) === tail) this.queues.delete(id);
    }
  }

  async exists(id: string): Promise<boolean> {
    return stat(this.imageOf(id)).then(
      () => true,
      () => false,
    );
  }

  /** Makes the image; an existing volume of that id is returned as it is (a retried create). */
  async create(id: string, sizeMb: number, signal?: AbortSignal): Promise<number> {
    if (!Number.isInteger(sizeMb) || sizeMb < 64) throw new WrennError('invalid_argument', `volume size ${sizeMb} MB must be at least 64 MB`);
    const image = this.imageOf(id);
    const existing = await stat(image).catch(() => undefined);
    if (existing) return existing.size;
    const dir = this.dirOf(id);
    // 0711: capsules' mapped root must traverse to the mount (their bind-mount source).
    await mkdir(this.root, { recursive: true, mode: 0o711 });
    await mkdir(dir, { mode: 0o711 });
    try {
      await createSparseFile(image, sizeMb * MiB);
      await formatExt4(image, sizeMb * MiB, this.idMapping, signal);
      // A volume starts empty, as E2B's do (e2fsck makes lost+found again if it needs one).
      await rm(join(await this.ensureMounted(id, signal), 'lost+found'), { recursive: true, force: true });
    } catch (err) {
      await this.unmount(id).catch(() => {});
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    this.logger.info({ volumeId: id, sizeMb }, 'volume created');
    return sizeMb * MiB;
  }

  /** Mounts the volume (if it is not mounted yet) and returns the mount directory. */
  async ensureMounted(id: string, signal?: AbortSignal): Promise<string> {
    const target = this.mountDirOf(id);
    if ((await readMountInfo()).some((m) => m.mountPoint === target)) return target;
    const image = this.imageOf(id);
    if (!(await this.exists(id))) throw new WrennError('volume_not_found', `volume ${id} does not exist on this host`, { volumeId: id });
    await mkdir(target, { recursive: true, mode: 0o711 });
    if (!(await isCleanExt4(image))) await checkExt4(image, signal);
    await mountExt4Image(image, target, signal);
    return target;
  }

  filesOf(mountDir: string): VolumeFiles {
    return new VolumeFiles(mountDir, this.idMapping);
  }

  async unmount(id: string): Promise<void> {
    await unmountAll(this.mountDirOf(id));
  }

  /** Unmounts and deletes the volume; a missing one is fine. */
  async remove(id: string): Promise<void> {
    await this.unmount(id);
    await rm(this.dirOf(id), { recursive: true, force: true });
    this.logger.info({ volumeId: id }, 'volume deleted');
  }
}

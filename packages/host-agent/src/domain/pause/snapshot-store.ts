/**
 * Snapshots of paused capsules on disk: `<snapshotDir>/<runtimeId>/` holds the CRIU image
 * (`memory/`) and `snapshot.json`, the metadata a resume needs (docs/decisions.md#h5). The capsule's disk
 * stays in its capsule directory (the ext4 image is kept across the pause).
 *
 * Directories are 0711 and the image dir 0755 with 0644 files: CRIU restores as the
 * capsule's mapped root, which must read the image (docs/decisions.md#p2).
 */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { PauseKind } from '../capsule-record.js';

export interface SnapshotMetadata {
  version: 1;
  kind: PauseKind;
  /** Host that took the snapshot: a CRIU image only restores on the machine (kernel, paths) it came from. */
  hostId: string;
  capsuleId: string;
  runtimeId: string;
  template: string;
  vcpus: number;
  memoryMb: number;
  diskSizeBytes: number;
  /** The capsule's disk (ext4 image of its writable layer), kept in place. */
  diskImage: string;
  netSlot: number;
  address: string;
  egress: boolean;
  envdAccessToken: string;
  envs: Record<string, string>;
  metadata: Record<string, string>;
  defaultUser: string;
  workdir?: string;
  createdAtMs: number;
  expiresAtMs: number;
  pausedAtMs: number;
  /** Bytes of the memory image (0 for filesystem pauses). */
  imageBytes: number;
  criuVersion?: string;
  /**
   * False when the image holds no socket that needs the network while it is restored (the
   * dump did not lock the network; the restore need not either, nor wait for the network).
   * Absent: unknown, restored the safe way.
   */
  socketsNeedNetwork?: false;
}

export class SnapshotStore {
  constructor(readonly root: string) {}

  dirOf(runtimeId: string): string {
    return join(this.root, runtimeId);
  }

  memoryDir(runtimeId: string): string {
    return join(this.dirOf(runtimeId), 'memory');
  }

  /** Creates the capsule's snapshot dir, dropping any earlier (stale or partial) image. */
  async prepare(runtimeId: string): Promise<void> {
    await fsp.mkdir(this.root, { recursive: true, mode: 0o711 });
    await fsp.mkdir(this.dirOf(runtimeId), { recursive: true, mode: 0o711 });
    await fsp.chmod(this.dirOf(runtimeId), 0o711);
    await this.removeMemory(runtimeId);
  }

  async removeMemory(runtimeId: string): Promise<void> {
    await fsp.rm(this.memoryDir(runtimeId), { recursive: true, force: true });
  }

  async writeMetadata(meta: SnapshotMetadata): Promise<void> {
    await fsp.mkdir(this.dirOf(meta.runtimeId), { recursive: true, mode: 0o711 });
    const target = join(this.dirOf(meta.runtimeId), 'snapshot.json');
    await fsp.writeFile(`${target}.tmp`, JSON.stringify(meta, null, 2), { mode: 0o600 });
    await fsp.rename(`${target}.tmp`, target);
  }

  async readMetadata(runtimeId: string): Promise<SnapshotMetadata | undefined> {
    try {
      return JSON.parse(await fsp.readFile(join(this.dirOf(runtimeId), 'snapshot.json'), 'utf8')) as SnapshotMetadata;
    } catch {
      return undefined;
    }
  }

  /** True when a memory image is present (CRIU's inventory is written last-but-one, pages first). */
  async hasMemoryImage(runtimeId: string): Promise<boolean> {
    return fsp.stat(join(this.memoryDir(runtimeId), 'inventory.img')).then(
      () => true,
      () => false,
    );
  }

  async remove(runtimeId: string): Promise<void> {
    await fsp.rm(this.dirOf(runtimeId), { recursive: true, force: true });
  }

  /** Runtime ids that have a snapshot directory. */
  async list(): Promise<string[]> {
    return fsp.readdir(this.root).catch(() => [] as string[]);
  }

  async memoryBytes(runtimeId: string): Promise<number> {
    let total = 0;
    const dir = this.memoryDir(runtimeId);
    for (const name of await fsp.readdir(dir).catch(() => [] as string[])) {
      const st = await fsp.stat(join(dir, name)).catch(() => undefined);
      if (st?.isFile()) total += st.size;
    }
    return total;
  }
}

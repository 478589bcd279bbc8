/**
 * Snapshot templates on disk, under their own root (default `<dataDir>/snapshot-templates`,
 * apart from base templates: they belong to this host and hold capsule memory):
 *
 *   <name>/template.json   metadata (0600: it holds the image's envd token)
 *   <name>/memory/         CRIU image, only ever read by restores (0755 dir, 0644 files:
 *                          CRIU restores as the capsule's mapped root, docs/decisions.md#p2)
 *   <name>/disk.ext4       sparse copy of the source's disk, copied again for each capsule
 *   .tmp/<name>-<random>/  snapshots being taken; renamed into place only when complete
 *   .trash/                replaced or deleted templates on their way out
 *
 * A crash leaves no half template: `.tmp` and `.trash` are emptied at agent start.
 */
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { WrennError } from '@wrenn/shared';
import { assertValidTemplateName } from '../../infra/template/metadata.js';
import type { SnapshotTemplateInfo, SnapshotTemplateMetadata } from './snapshot-template-types.js';

const METADATA_FILE = 'template.json';
const MEMORY_DIR = 'memory';
const DISK_FILE = 'disk.ext4';

/** Where a snapshot is written while it is being taken. */
export interface SnapshotStaging {
  dir: string;
  memoryDir: string;
  diskImage: string;
}

export class SnapshotTemplateStore {
  constructor(readonly root: string) {}

  dirOf(name: string): string {
    assertValidTemplateName(name);
    return join(this.root, name);
  }

  memoryDir(name: string): string {
    return join(this.dirOf(name), MEMORY_DIR);
  }

  diskImage(name: string): string {
    return join(this.dirOf(name), DISK_FILE);
  }

  /** A fresh staging directory for a snapshot named `name`. */
  async createStaging(name: string): Promise<SnapshotStaging> {
    assertValidTemplateName(name);
    const tmp = join(this.root, '.tmp');
    await fsp.mkdir(tmp, { recursive: true, mode: 0o711 });
    await fsp.chmod(this.root, 0o711);
    await fsp.chmod(tmp, 0o711);
    const dir = join(tmp, `${name}-${randomBytes(4).toString('hex')}`);
    await fsp.mkdir(dir, { mode: 0o711 });
    return { dir, memoryDir: join(dir, MEMORY_DIR), diskImage: join(dir, DISK_FILE) };
  }

  async discardStaging(staging: SnapshotStaging): Promise<void> {
    await fsp.rm(staging.dir, { recursive: true, force: true });
  }

  /**
   * Makes a complete staging dir the template `meta.name`: metadata written, files made
   * durable, then renamed into place. With `replace`, an existing template of that name
   * goes; without, it is already_exists. The caller serialises operations on one name.
   */
  async install(staging: SnapshotStaging, meta: SnapshotTemplateMetadata, replace: boolean): Promise<void> {
    const target = this.dirOf(meta.name);
    const exists = await this.exists(meta.name);
    if (exists && !replace) throw alreadyExists(meta.name);
    await fsp.writeFile(join(staging.dir, METADATA_FILE), `${JSON.stringify(meta, null, 2)}\n`, { mode: 0o600 });
    // A host crash must not leave a template whose image looks complete but is not.
    await syncTree(staging.dir);
    if (exists) await this.moveToTrash(meta.name);
    await fsp.rename(staging.dir, target);
    await this.emptyTrash();
  }

  async exists(name: string): Promise<boolean> {
    return fsp.stat(join(this.dirOf(name), METADATA_FILE)).then(
      () => true,
      () => false,
    );
  }

  async readMetadata(name: string): Promise<SnapshotTemplateMetadata | undefined> {
    let text: string;
    try {
      text = await fsp.readFile(join(this.dirOf(name), METADATA_FILE), 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
    const meta = JSON.parse(text) as Partial<SnapshotTemplateMetadata>;
    if (meta.version !== 1 || meta.kind !== 'snapshot' || meta.name !== name || typeof meta.baseTemplate !== 'string') {
      throw new WrennError('internal', `${join(this.dirOf(name), METADATA_FILE)} is not a valid snapshot template: delete the template`, {
        template: name,
      });
    }
    return meta as SnapshotTemplateMetadata;
  }

  /** Every complete snapshot template (unreadable ones are skipped). */
  async list(): Promise<SnapshotTemplateMetadata[]> {
    const names = (await fsp.readdir(this.root).catch(() => [] as string[])).filter((n) => !n.startsWith('.')).sort();
    const out: SnapshotTemplateMetadata[] = [];
    for (const name of names) {
      const meta = await this.readMetadata(name).catch(() => undefined);
      if (meta) out.push(meta);
    }
    return out;
  }

  async remove(name: string): Promise<void> {
    if (!(await this.exists(name))) throw new WrennError('template_not_found', `snapshot template ${name} does not exist`, { template: name });
    await this.moveToTrash(name);
    await this.emptyTrash();
  }

  /** Memory dirs of snapshots being taken (or left by a stopped agent). */
  async stagingMemoryDirs(): Promise<string[]> {
    const tmp = join(this.root, '.tmp');
    return (await fsp.readdir(tmp).catch(() => [] as string[])).map((entry) => join(tmp, entry, MEMORY_DIR));
  }

  /** Deletes snapshots that were being taken, or deleted, when the agent stopped. */
  async removeLeftovers(): Promise<string[]> {
    const left: string[] = [];
    for (const sub of ['.tmp', '.trash']) {
      for (const entry of await fsp.readdir(join(this.root, sub)).catch(() => [] as string[])) {
        await fsp.rm(join(this.root, sub, entry), { recursive: true, force: true });
        left.push(`${sub}/${entry}`);
      }
    }
    return left;
  }

  private async moveToTrash(name: string): Promise<void> {
    const trash = join(this.root, '.trash');
    await fsp.mkdir(trash, { recursive: true, mode: 0o700 });
    await fsp.rename(this.dirOf(name), join(trash, `${name}-${randomBytes(4).toString('hex')}`));
  }

  private async emptyTrash(): Promise<void> {
    const trash = join(this.root, '.trash');
    for (const entry of await fsp.readdir(trash).catch(() => [] as string[])) {
      await fsp.rm(join(trash, entry), { recursive: true, force: true });
    }
  }
}

export function alreadyExists(name: string): WrennError {
  return new WrennError('already_exists', `a template named ${name} already exists: choose another name, or overwrite the snapshot template`, {
    template: name,
  });
}

export function toSnapshotInfo(meta: SnapshotTemplateMetadata): SnapshotTemplateInfo {
  return {
    name: meta.name,
    kind: 'snapshot',
    sourceCapsuleId: meta.sourceCapsuleId,
    baseTemplate: meta.baseTemplate,
    createdAtMs: meta.createdAtMs,
    sizeBytes: meta.memoryBytes + meta.diskBytes,
    memoryBytes: meta.memoryBytes,
    vcpus: meta.vcpus,
    memoryMb: meta.memoryMb,
    diskSizeBytes: meta.diskSizeBytes,
    defaultUser: meta.defaultUser,
  };
}

/** fsync of every file under `dir` (not the whole filesystem, as `sync -f` would). */
async function syncTree(dir: string): Promise<void> {
  for (const entry of await fsp.readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) {
      await syncTree(path);
    } else if (entry.isFile()) {
      const handle = await fsp.open(path, 'r');
      try {
        await handle.datasync();
      } finally {
        await handle.close();
      }
    }
  }
}

/** Persistence of capsule records under the data dir, one atomically replaced file each. */
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import type { CapsuleRecord } from './capsule-record.js';

export class CapsuleStore {
  readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'capsules');
  }

  dirOf(runtimeId: string): string {
    return join(this.root, runtimeId);
  }

  async save(record: CapsuleRecord): Promise<void> {
    const dir = this.dirOf(record.runtimeId);
    // 0711: the capsule's mapped root must traverse to its rootfs; state.json itself stays 0600.
    await fsp.mkdir(dir, { recursive: true, mode: 0o711 });
    await fsp.chmod(dir, 0o711);
    const target = join(dir, 'state.json');
    const tmp = `${target}.tmp`;
    await fsp.writeFile(tmp, JSON.stringify(record, null, 2), { mode: 0o600 });
    await fsp.rename(tmp, target);
  }

  /** Removes the capsule's directory (whatever is left in it). */
  async remove(runtimeId: string): Promise<void> {
    await fsp.rm(this.dirOf(runtimeId), { recursive: true, force: true });
  }

  /** Every record on disk, plus directories without a readable record (crashed creates). */
  async scan(): Promise<{ records: CapsuleRecord[]; orphanDirs: string[] }> {
    const records: CapsuleRecord[] = [];
    const orphanDirs: string[] = [];
    const names = await fsp.readdir(this.root).catch(() => [] as string[]);
    for (const name of names) {
      try {
        records.push(JSON.parse(await fsp.readFile(join(this.root, name, 'state.json'), 'utf8')) as CapsuleRecord);
      } catch {
        orphanDirs.push(name);
      }
    }
    return { records, orphanDirs };
  }
}

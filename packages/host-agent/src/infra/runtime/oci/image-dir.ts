/**
 * CRIU image directories must be readable by the capsule's mapped uid during restore
 * (docs/decisions.md#p2: "Unable to open timens-0.img: Permission denied" until the directory
 * was 0755 and its files 0644). CRIU writes them 0600, so every checkpoint is followed by
 * this pass, and every restore is preceded by it (images may have been copied around).
 */
import { chmod, mkdir, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export async function prepareImageDir(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o755 });
  await chmod(dir, 0o755);
}

export async function makeImageReadable(dir: string): Promise<void> {
  await chmod(dir, 0o755);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await makeImageReadable(path);
    else if (entry.isFile()) await chmod(path, 0o644);
  }
}

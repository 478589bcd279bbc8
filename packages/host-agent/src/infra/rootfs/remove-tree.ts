/**
 * rm -rf that refuses to descend into mounts: a recursive delete through a still-mounted
 * overlay, loop filesystem or bind mount would destroy data that is not ours (a template,
 * a host directory). Callers unmount first; this is the guard for when that failed.
 */
import { rm } from 'node:fs/promises';
import { WrennError } from '@wrenn/shared';
import { mountsAtOrUnder, readMountInfo } from './mountinfo.js';

export async function removeTreeSafely(dir: string): Promise<void> {
  const mounts = mountsAtOrUnder(await readMountInfo(), dir);
  if (mounts.length > 0) {
    throw new WrennError('internal', `refusing to delete ${dir}: ${mounts.map((m) => m.mountPoint).join(', ')} still mounted`, {
      dir,
      mounts: mounts.map((m) => m.mountPoint),
    });
  }
  await rm(dir, { recursive: true, force: true, maxRetries: 2 });
}

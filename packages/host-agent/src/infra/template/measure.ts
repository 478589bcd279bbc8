/**
 * For trees that are already in the capsule id range (a capsule's merged root copied by
 * FlattenTemplate): measures the tree like ./shift.ts does (allocated bytes of each inode
 * once: the template size that sizes capsule disks, H6) without shifting it again, and
 * gives anything owned by an id outside the range (a mount point the runtime created as
 * host root, say) to the capsule's root, so no file of a template belongs to a host id.
 */
import { lchown } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import type { IdMapping } from '../runtime/runtime.js';
import { walkTree } from './walk.js';

export interface MeasureResult {
  entries: number;
  inodes: number;
  sizeBytes: number;
  /** Entries whose owner was outside the capsule range and was set to the capsule's root. */
  reowned: number;
  durationMs: number;
}

export async function measureShiftedTree(root: string, mapping: IdMapping, opts: { signal?: AbortSignal } = {}): Promise<MeasureResult> {
  const startedAt = performance.now();
  const seen = new Set<string>();
  let entries = 0;
  let inodes = 0;
  let sizeBytes = 0;
  let reowned = 0;
  const inRange = (id: number) => id >= mapping.hostBase && id < mapping.hostBase + mapping.size;
  await walkTree(
    root,
    async (path: string, st: Stats) => {
      entries += 1;
      if (st.nlink > 1 && !st.isDirectory()) {
        const key = `${st.dev}:${st.ino}`;
        if (seen.has(key)) return;
        seen.add(key);
      }
      inodes += 1;
      sizeBytes += st.blocks * 512;
      if (!inRange(st.uid) || !inRange(st.gid)) {
        reowned += 1;
        await lchown(path, inRange(st.uid) ? st.uid : mapping.hostBase, inRange(st.gid) ? st.gid : mapping.hostBase);
      }
    },
    opts,
  );
  return { entries, inodes, sizeBytes, reowned, durationMs: Math.round(performance.now() - startedAt) };
}

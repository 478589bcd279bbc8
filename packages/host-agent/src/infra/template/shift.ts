/**
 * Shifts the owners of a template tree into the capsule's id range (uid u → hostBase + u,
 * same for gids), once, when the template is built or imported: runc 1.1 has no idmapped
 * mounts, so the overlay lower layer must already be owned by the ids the capsule's root
 * maps to.
 *
 * Rules: symlinks are lchown'ed and never followed; a hard-linked inode is shifted once
 * (shifting it again through its second name would add hostBase twice); setuid/setgid
 * bits, which chown clears, are put back with chmod; file capabilities (cleared by chown)
 * and ACL entries (which name ids) are shifted through ./xattrs.ts; nothing is skipped.
 * An id outside the mapped range fails the whole shift: the caller discards the tree.
 *
 * The walk also measures the tree (du-like: allocated bytes of each inode once), which
 * decides the minimum size of a capsule's writable layer (docs/decisions.md#h6).
 */
import { chmod, lchown } from 'node:fs/promises';
import type { Stats } from 'node:fs';
import { WrennError } from '@wrenn/shared';
import type { IdMapping } from '../runtime/runtime.js';
import { walkTree } from './walk.js';
import { dumpIdXattrs, restoreShiftedIdXattrs } from './xattrs.js';

export interface ShiftOptions {
  signal?: AbortSignal;
  concurrency?: number;
}

export interface ShiftResult {
  /** Directory entries visited (every name, hard links counted per name). */
  entries: number;
  /** Distinct inodes shifted. */
  inodes: number;
  /** Allocated bytes of the tree, each inode counted once. */
  sizeBytes: number;
  /** Files whose capabilities or ACLs were rewritten. */
  xattrFiles: number;
  durationMs: number;
}

const SETID_BITS = 0o6000;

export function validateIdMapping(mapping: IdMapping): void {
  const { hostBase, size } = mapping;
  if (!Number.isInteger(hostBase) || !Number.isInteger(size) || hostBase < 1 || size < 1 || hostBase + size > 0xffffffff) {
    throw new WrennError('invalid_argument', `invalid id mapping ${JSON.stringify(mapping)}: hostBase and size must be positive integers within 32 bits`);
  }
}

export async function shiftTreeOwnership(root: string, mapping: IdMapping, opts: ShiftOptions = {}): Promise<ShiftResult> {
  validateIdMapping(mapping);
  const startedAt = performance.now();
  const xattrs = await dumpIdXattrs(root, opts.signal);

  const seenLinkedInodes = new Set<string>();
  let entries = 0;
  let inodes = 0;
  let allocatedBytes = 0;

  const shiftEntry = async (path: string, st: Stats) => {
    entries += 1;
    if (st.nlink > 1 && !st.isDirectory()) {
      const key = `${st.dev}:${st.ino}`;
      if (seenLinkedInodes.has(key)) return;
      seenLinkedInodes.add(key);
    }
    inodes += 1;
    allocatedBytes += st.blocks * 512;
    const uid = shiftedId(st.uid, mapping, 'uid', path);
    const gid = shiftedId(st.gid, mapping, 'gid', path);
    await lchown(path, uid, gid);
    if (!st.isSymbolicLink() && (st.mode & SETID_BITS) !== 0) await chmod(path, st.mode & 0o7777);
  };

  await walkTree(root, shiftEntry, opts);
  await restoreShiftedIdXattrs(xattrs, mapping, opts.signal);
  return { entries, inodes, sizeBytes: allocatedBytes, xattrFiles: xattrs.length, durationMs: Math.round(performance.now() - startedAt) };
}

function shiftedId(id: number, mapping: IdMapping, kind: 'uid' | 'gid', path: string): number {
  if (id >= mapping.size) {
    throw new WrennError(
      'invalid_argument',
      `${path} is owned by ${kind} ${id}, outside the capsule id range 0-${mapping.size - 1}: ` +
        `change its owner in the source tree or raise the id mapping size`,
      { path, [kind]: id, mappingSize: mapping.size },
    );
  }
  return mapping.hostBase + id;
}

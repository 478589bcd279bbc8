/**
 * The sparse ext4 image that holds a capsule's writable layer: its size is the capsule's
 * disk limit (a full disk is ENOSPC inside the capsule, docs/decisions.md#h6), its blocks are allocated only
 * as the capsule writes.
 *
 * mkfs choices: no reserved blocks (-m 0: they are reserved for host uid 0, which nothing
 * in the capsule is); lazy inode-table and journal init on a fresh all-zero file, so mkfs
 * writes ~4 MB of metadata whatever the size; a journal is kept because it costs nothing at
 * mkfs time (measured: same time and blocks as without) and makes the image consistent after
 * a host crash without an fsck; it is capped at 16 MiB because its blocks become allocated
 * in the sparse file as they are used.
 */
import { open } from 'node:fs/promises';
import { WrennError } from '@wrenn/shared';
import type { IdMapping } from '../runtime/runtime.js';
import { run } from '../exec.js';

const MiB = 1024 * 1024;
/** An ext4 with a journal and room to work needs a few MiB; below this mkfs makes odd choices. */
export const MIN_IMAGE_BYTES = 64 * MiB;

/**
 * Size of a capsule's image: the requested disk size, but never less than the template
 * plus room for ext4 metadata and for a full copy-up of the template (docs/decisions.md#h6).
 */
export function upperImageSizeBytes(diskSizeBytes: number, templateSizeBytes: number): number {
  if (!Number.isFinite(diskSizeBytes) || diskSizeBytes < 0) {
    throw new WrennError('invalid_argument', `disk size ${diskSizeBytes} bytes is not a valid size`);
  }
  const headroom = Math.max(64 * MiB, Math.ceil(templateSizeBytes * 0.1));
  const bytes = Math.max(diskSizeBytes, templateSizeBytes + headroom, MIN_IMAGE_BYTES);
  return Math.ceil(bytes / MiB) * MiB;
}

/** Creates `path` as a sparse file of `sizeBytes`; fails if it exists (never clobbers a capsule's disk). */
export async function createSparseFile(path: string, sizeBytes: number): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.truncate(sizeBytes);
  } finally {
    await handle.close();
  }
}

export async function formatExt4(path: string, sizeBytes: number, idMapping: IdMapping, signal?: AbortSignal): Promise<void> {
  const owner = `${idMapping.hostBase}:${idMapping.hostBase}`;
  const journal = sizeBytes >= 256 * MiB ? ['-J', 'size=16'] : [];
  await run(
    'mkfs.ext4',
    ['-F', '-q', '-b', '4096', '-m', '0', ...journal, '-E', `lazy_itable_init=1,lazy_journal_init=1,nodiscard,root_owner=${owner}`, path],
    { signal },
  );
}

/** ext4 superblock fields (fs/ext4/ext4.h): where they are and the bits that matter here. */
const SUPERBLOCK_OFFSET = 1024;
const S_MAGIC = 0x38;
const S_STATE = 0x3a;
const S_FEATURE_INCOMPAT = 0x60;
const EXT4_MAGIC = 0xef53;
const EXT4_VALID_FS = 0x1;
const EXT4_ERROR_FS = 0x2;
const INCOMPAT_RECOVER = 0x4;

/**
 * True when the image was left consistent: unmounted cleanly (or frozen, for a snapshot's
 * copy), no errors recorded, no journal to replay — what `dumpe2fs -h` reports as state
 * "clean" without `needs_recovery`. Read from the superblock directly: it decides on
 * every resume whether e2fsck (a process, tens of ms) must run.
 */
export async function isCleanExt4(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const sb = Buffer.alloc(0x64);
    const { bytesRead } = await handle.read(sb, 0, sb.length, SUPERBLOCK_OFFSET);
    if (bytesRead < sb.length || sb.readUInt16LE(S_MAGIC) !== EXT4_MAGIC) return false;
    const state = sb.readUInt16LE(S_STATE);
    const incompat = sb.readUInt32LE(S_FEATURE_INCOMPAT);
    return (state & EXT4_VALID_FS) !== 0 && (state & EXT4_ERROR_FS) === 0 && (incompat & INCOMPAT_RECOVER) === 0;
  } finally {
    await handle.close();
  }
}

/**
 * Replays/checks an existing image before it is mounted again (`e2fsck -p`: fixes what is
 * safe to fix, fails on anything else). Callers skip it for images `isCleanExt4` accepts.
 */
export async function checkExt4(path: string, signal?: AbortSignal): Promise<void> {
  const result = await run('e2fsck', ['-p', path], { signal, allowFailure: true });
  // 0: clean, 1: errors fixed, 2: fixed, reboot advised (irrelevant for an image file).
  if (result.code === 0 || result.code === 1 || result.code === 2) return;
  throw new WrennError('internal', `the disk image ${path} has errors e2fsck -p cannot fix (exit ${result.code}): ${(result.stderr || result.stdout).trim()}`, {
    path,
  });
}

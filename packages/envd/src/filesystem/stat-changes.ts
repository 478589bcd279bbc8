/**
 * What inotify cannot say and a stat can: whether a change to a file was to its content
 * (WRITE) or its attributes (CHMOD), and whether a directory lives on a network
 * filesystem where inotify does not see changes made by other machines.
 */
import { promises as fsp, type Stats } from 'node:fs';
import { EventType } from '@wrenn/proto/filesystem';
import { WrennError } from '@wrenn/shared';

export interface Snapshot {
  readonly inode: string;
  readonly isDir: boolean;
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  readonly size: number;
  readonly mtimeMs: number;
  readonly ctimeMs: number;
}

export function snapshot(st: Stats): Snapshot {
  return {
    inode: `${st.dev}:${st.ino}`,
    isDir: st.isDirectory(),
    mode: st.mode,
    uid: st.uid,
    gid: st.gid,
    size: st.size,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
  };
}

/**
 * What a 'change' on an entry that is still the same inode was, from its stat before and
 * now. Empty when nothing visible changed (a write within the same clock tick, or a change
 * already reported for an earlier event of the same batch).
 */
export function classifyChange(prev: Snapshot, now: Snapshot): EventType[] {
  // inotify reports no content modification for directories, only attribute changes.
  if (now.isDir) return [EventType.CHMOD];
  const content = now.size !== prev.size || now.mtimeMs !== prev.mtimeMs;
  const attributes = now.mode !== prev.mode || now.uid !== prev.uid || now.gid !== prev.gid;
  if (content && attributes) return [EventType.WRITE, EventType.CHMOD];
  if (content) return [EventType.WRITE];
  if (attributes || now.ctimeMs !== prev.ctimeMs) return [EventType.CHMOD];
  return [];
}

/** statfs magic numbers of network filesystems, where inotify misses remote changes. */
const NETWORK_FS: ReadonlyMap<number, string> = new Map([
  [0x6969, 'nfs'],
  [0x517b, 'smb'],
  [0xff534d42, 'cifs'],
  [0xfe534d42, 'smb2'],
  [0x00c36400, 'ceph'],
  [0x5346414f, 'afs'],
  [0x73757245, 'coda'],
]);

/** Refuses (failed_precondition) to watch a directory on a network filesystem. */
export async function ensureNotNetworkMount(root: string): Promise<void> {
  const fsType = NETWORK_FS.get((await fsp.statfs(root)).type);
  if (!fsType) return;
  throw new WrennError(
    'failed_precondition',
    `cannot watch ${JSON.stringify(root)}: it is on a network filesystem (${fsType}) where changes made elsewhere are not seen; set allowNetworkMounts to watch it anyway`,
    { path: root },
  );
}

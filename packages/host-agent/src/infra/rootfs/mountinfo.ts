/**
 * The kernel's view of what is mounted (/proc/self/mountinfo): the source of truth for
 * "is this capsule's root still mounted" after an agent restart, and for finding mounts
 * left under a directory by a crashed run.
 */
import { readFile } from 'node:fs/promises';

export interface MountEntry {
  mountId: number;
  parentId: number;
  /** Absolute mount point, octal escapes decoded. */
  mountPoint: string;
  fsType: string;
  /** Mount source (the device for ext4, e.g. /dev/loop3; "overlay" for overlayfs). */
  source: string;
  /** Per-superblock options (for overlayfs: lowerdir=...,upperdir=...,workdir=...). */
  superOptions: string;
}

export async function readMountInfo(path = '/proc/self/mountinfo'): Promise<MountEntry[]> {
  return parseMountInfo(await readFile(path, 'utf8'));
}

export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    // id parent major:minor root mountpoint options [optional fields...] - fstype source superoptions
    const [left, right] = splitOnce(line, ' - ');
    if (right === undefined) continue;
    const l = left.split(' ');
    const r = right.split(' ');
    if (l.length < 6 || r.length < 3) continue;
    entries.push({
      mountId: Number(l[0]),
      parentId: Number(l[1]),
      mountPoint: unescapeMountField(l[4]!),
      fsType: r[0]!,
      source: unescapeMountField(r[1]!),
      superOptions: unescapeMountField(r.slice(2).join(' ')),
    });
  }
  return entries;
}

/**
 * Mounts at `dir` or below it, most recent first: the order to unmount them in (an overlay
 * is mounted after the ext4 that holds its upper layer, a nested mount after its parent).
 */
export function mountsAtOrUnder(entries: readonly MountEntry[], dir: string): MountEntry[] {
  const prefix = dir.endsWith('/') ? dir : `${dir}/`;
  return entries.filter((e) => e.mountPoint === dir || e.mountPoint.startsWith(prefix)).reverse();
}

/** The overlay option value (e.g. lowerdir) of an overlay mount, or undefined. */
export function overlayOption(entry: MountEntry, name: 'lowerdir' | 'upperdir' | 'workdir'): string | undefined {
  for (const option of splitOverlayOptions(entry.superOptions)) {
    if (option.startsWith(`${name}=`)) return option.slice(name.length + 1);
  }
  return undefined;
}

// Overlay escapes ',' inside values with a backslash; we never create such paths, but do not split on them.
function splitOverlayOptions(options: string): string[] {
  return options.split(/(?<!\\),/);
}

function splitOnce(text: string, separator: string): [string, string | undefined] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, undefined] : [text.slice(0, at), text.slice(at + separator.length)];
}

function unescapeMountField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

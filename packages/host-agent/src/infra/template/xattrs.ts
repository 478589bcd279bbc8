/**
 * The extended attributes that carry user or group ids and therefore must follow a uid
 * shift: file capabilities (chown clears them, and inside a user namespace the kernel
 * only honours v3 capabilities whose root id is the namespace's root) and POSIX ACLs
 * (named user/group entries). Everything else (user.*, security.selinux, ...) is untouched
 * by chown and needs nothing.
 *
 * One `getfattr` dumps them for a whole tree before the shift and one `setfattr --restore`
 * writes the shifted values back after it: two processes per template, not one per file.
 */
import { WrennError } from '@wrenn/shared';
import { run } from '../exec.js';
import type { IdMapping } from '../runtime/runtime.js';

const CAPABILITY = 'security.capability';
const ACL_ACCESS = 'system.posix_acl_access';
const ACL_DEFAULT = 'system.posix_acl_default';
const ID_XATTR_PATTERN = '^(security\\.capability|system\\.posix_acl_(access|default))$';

/** One file's id-carrying attributes; `fileLine` is getfattr's escaped name, replayed verbatim. */
export interface IdXattrs {
  fileLine: string;
  attrs: Array<{ name: string; value: Buffer }>;
}

/** Dumps the id-carrying xattrs of every file under `root` (symlinks not followed). */
export async function dumpIdXattrs(root: string, signal?: AbortSignal): Promise<IdXattrs[]> {
  const { stdout } = await run(
    'getfattr',
    ['--recursive', '--physical', '--no-dereference', '--absolute-names', '--dump', '--match', ID_XATTR_PATTERN, '--encoding', 'hex', root],
    { signal, maxOutputBytes: 256 * 1024 * 1024 },
  );
  return parseGetfattrDump(stdout);
}

export function parseGetfattrDump(text: string): IdXattrs[] {
  const files: IdXattrs[] = [];
  let current: IdXattrs | undefined;
  for (const line of text.split('\n')) {
    if (line.startsWith('# file: ')) {
      current = { fileLine: line, attrs: [] };
      files.push(current);
      continue;
    }
    if (!current || line === '') continue;
    const eq = line.indexOf('=');
    const hex = eq > 0 ? line.slice(eq + 1) : '';
    if (!hex.startsWith('0x')) throw new WrennError('internal', `unexpected getfattr output line: ${JSON.stringify(line)}`);
    current.attrs.push({ name: line.slice(0, eq), value: Buffer.from(hex.slice(2), 'hex') });
  }
  return files.filter((f) => f.attrs.length > 0);
}

/** Writes the dumped attributes back with their ids shifted (run after the chown pass). */
export async function restoreShiftedIdXattrs(files: readonly IdXattrs[], mapping: IdMapping, signal?: AbortSignal): Promise<void> {
  if (files.length === 0) return;
  const lines: string[] = [];
  for (const file of files) {
    lines.push(file.fileLine);
    for (const { name, value } of file.attrs) lines.push(`${name}=0x${shiftIdXattr(name, value, mapping).toString('hex')}`);
    lines.push('');
  }
  await run('setfattr', ['--restore=-'], { signal, input: lines.join('\n') });
}

export function shiftIdXattr(name: string, value: Buffer, mapping: IdMapping): Buffer {
  if (name === CAPABILITY) return shiftCapability(value, mapping);
  if (name === ACL_ACCESS || name === ACL_DEFAULT) return shiftAcl(value, mapping);
  return value;
}

const VFS_CAP_REVISION_MASK = 0xff000000;
const VFS_CAP_REVISION_2 = 0x02000000;
const VFS_CAP_REVISION_3 = 0x03000000;
const VFS_CAP_FLAGS_EFFECTIVE = 0x000001;

/**
 * v2 (no root id, meaning host root) or v3 capabilities → v3 whose root id is the shifted
 * root: that is the only form the kernel applies inside the capsule's user namespace.
 */
export function shiftCapability(value: Buffer, mapping: IdMapping): Buffer {
  if (value.length < 20) throw new WrennError('internal', `file capability of ${value.length} bytes is not a v2/v3 capability`);
  const magic = value.readUInt32LE(0);
  const revision = (magic & VFS_CAP_REVISION_MASK) >>> 0;
  if (revision !== VFS_CAP_REVISION_2 && revision !== VFS_CAP_REVISION_3) {
    throw new WrennError('internal', `file capability revision 0x${revision.toString(16)} is not supported`);
  }
  const rootId = revision === VFS_CAP_REVISION_3 && value.length >= 24 ? value.readUInt32LE(20) : 0;
  const out = Buffer.alloc(24);
  out.writeUInt32LE((VFS_CAP_REVISION_3 | (magic & VFS_CAP_FLAGS_EFFECTIVE)) >>> 0, 0);
  value.copy(out, 4, 4, 20);
  out.writeUInt32LE(shiftId(rootId, mapping, 'capability root id'), 20);
  return out;
}

const ACL_USER = 0x02;
const ACL_GROUP = 0x08;

/** Shifts the ids of named user and group entries of a POSIX ACL xattr (version 2 format). */
export function shiftAcl(value: Buffer, mapping: IdMapping): Buffer {
  if (value.length < 4 || (value.length - 4) % 8 !== 0 || value.readUInt32LE(0) !== 2) {
    throw new WrennError('internal', `POSIX ACL attribute of ${value.length} bytes is not in version 2 format`);
  }
  const out = Buffer.from(value);
  for (let off = 4; off < out.length; off += 8) {
    const tag = out.readUInt16LE(off);
    if (tag === ACL_USER || tag === ACL_GROUP) {
      out.writeUInt32LE(shiftId(out.readUInt32LE(off + 4), mapping, tag === ACL_USER ? 'ACL user' : 'ACL group'), off + 4);
    }
  }
  return out;
}

function shiftId(id: number, mapping: IdMapping, what: string): number {
  if (id >= mapping.size) {
    throw new WrennError('invalid_argument', `${what} ${id} is outside the mapped id range 0-${mapping.size - 1}`);
  }
  return mapping.hostBase + id;
}

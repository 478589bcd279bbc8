/**
 * User extended attributes (`user.*` xattrs): the e2b SDK stores file metadata there and
 * reads it back in EntryInfo.metadata. Node has no xattr API, so this wraps the native
 * `fs-xattr` addon. The addon is loaded lazily and optionally: where it is missing or
 * cannot load, files simply have no metadata instead of envd failing to start.
 */
interface XattrAddon {
  listAttributes(path: string): Promise<string[]>;
  getAttribute(path: string, attr: string): Promise<Buffer>;
  setAttribute(path: string, attr: string, value: Buffer | string): Promise<void>;
  removeAttribute(path: string, attr: string): Promise<void>;
}

const PREFIX = 'user.';

/** Settles once: the addon, or null when it cannot be loaded here. */
let addon: Promise<XattrAddon | null> | undefined;

function loadAddon(): Promise<XattrAddon | null> {
  // A dynamic import the bundler can see: it inlines fs-xattr, whose loader then finds
  // build/Release/xattr.node next to the bundle (scripts/bundle.mjs copies it there).
  // Loading the .node file is what can fail (missing, wrong libc), hence the catch.
  addon ??= import('fs-xattr').then(
    (m) => m as XattrAddon,
    () => null,
  );
  return addon;
}

/** Whether xattrs can be read and written in this process. */
export async function xattrsAvailable(): Promise<boolean> {
  return (await loadAddon()) !== null;
}

/**
 * The `user.*` attributes of `path` (following symlinks) without the prefix. Empty when the
 * addon is unavailable or the filesystem does not support xattrs.
 */
export async function readUserXattrs(path: string): Promise<Record<string, string>> {
  const x = await loadAddon();
  if (!x) return {};
  let names: string[];
  try {
    names = await x.listAttributes(path);
  } catch {
    return {};
  }
  const out: Record<string, string> = {};
  for (const name of names) {
    if (!name.startsWith(PREFIX)) continue;
    try {
      out[name.slice(PREFIX.length)] = (await x.getAttribute(path, name)).toString('utf8');
    } catch {
      // Removed between list and get: it is simply not there any more.
    }
  }
  return out;
}

/**
 * Sets `user.<key>` on `path` for every entry. Returns false (and writes nothing) when the
 * addon is unavailable; filesystem errors (ENOTSUP, EACCES) are thrown.
 */
export async function writeUserXattrs(path: string, values: Record<string, string>): Promise<boolean> {
  const x = await loadAddon();
  if (!x) return false;
  for (const [key, value] of Object.entries(values)) {
    await x.setAttribute(path, PREFIX + key, value);
  }
  return true;
}

/**
 * User extended attributes (`user.*` xattrs): the e2b SDK stores file metadata there and
 * reads it back in EntryInfo.metadata. Node has no xattr API, so this wraps the native
 * `fs-xattr` addon. The addon is loaded lazily and optionally: envd is bundled into one
 * file and may run where the addon is missing or cannot load, and then files simply have
 * no metadata instead of envd failing to start.
 */
import { createRequire } from 'node:module';

interface XattrAddon {
  listAttributes(path: string): Promise<string[]>;
  getAttribute(path: string, attr: string): Promise<Buffer>;
  setAttribute(path: string, attr: string, value: Buffer | string): Promise<void>;
  removeAttribute(path: string, attr: string): Promise<void>;
}

const PREFIX = 'user.';

/** undefined: not tried yet; null: tried and unavailable. */
let addon: XattrAddon | null | undefined;

function loadAddon(): XattrAddon | null {
  if (addon !== undefined) return addon;
  try {
    // A bundled CommonJS build has __filename but no import.meta.url; the ESM sources the opposite.
    const base = typeof __filename === 'string' ? __filename : import.meta.url;
    // Loaded through a runtime require so that a bundler leaves the native addon alone.
    addon = createRequire(base)('fs-xattr') as XattrAddon;
  } catch {
    addon = null;
  }
  return addon;
}

/** Whether xattrs can be read and written in this process. */
export function xattrsAvailable(): boolean {
  return loadAddon() !== null;
}

/**
 * The `user.*` attributes of `path` (following symlinks) without the prefix. Empty when the
 * addon is unavailable or the filesystem does not support xattrs.
 */
export async function readUserXattrs(path: string): Promise<Record<string, string>> {
  const x = loadAddon();
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
  const x = loadAddon();
  if (!x) return false;
  for (const [key, value] of Object.entries(values)) {
    await x.setAttribute(path, PREFIX + key, value);
  }
  return true;
}

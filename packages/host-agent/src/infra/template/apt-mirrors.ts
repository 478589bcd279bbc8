/**
 * The Debian archive the machine is configured to use, read from its apt sources (deb822
 * `/etc/apt/sources.list.d/*.sources` and one-line `sources.list` files), so templates are
 * built from the same mirror the host installs from (possibly the only one reachable).
 * Mirror host names never appear in the repository.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

export interface AptArchives {
  /** The main archive (suites like bookworm, bookworm-updates). */
  mainUri?: string;
  /** The security archive (suites like bookworm-security). */
  securityUri?: string;
}

interface SourceEntry {
  types: string[];
  uris: string[];
  suites: string[];
}

export async function readHostAptArchives(aptDir = '/etc/apt'): Promise<AptArchives> {
  const entries: SourceEntry[] = [];
  const listFile = await readOptional(join(aptDir, 'sources.list'));
  if (listFile) entries.push(...parseOneLineSources(listFile));
  const dir = join(aptDir, 'sources.list.d');
  const names = (await readdir(dir).catch(() => [] as string[])).sort();
  for (const name of names) {
    const text = await readOptional(join(dir, name));
    if (!text) continue;
    if (name.endsWith('.sources')) entries.push(...parseDeb822Sources(text));
    else if (name.endsWith('.list')) entries.push(...parseOneLineSources(text));
  }
  const archives: AptArchives = {};
  for (const entry of entries) {
    if (!entry.types.includes('deb')) continue;
    const uri = entry.uris.find((u) => /^(https?|file):/.test(u));
    if (!uri) continue;
    const isSecurity = entry.suites.some((s) => s.endsWith('-security') || s.endsWith('/updates'));
    if (isSecurity) archives.securityUri ??= uri;
    else archives.mainUri ??= uri;
  }
  return archives;
}

/** apt one-line entries for `suite` (main component) from the host's archives; empty when none is configured. */
export function mirrorLinesFor(suite: string, archives: AptArchives): string[] {
  const lines: string[] = [];
  if (archives.mainUri) lines.push(`deb ${archives.mainUri} ${suite} main`, `deb ${archives.mainUri} ${suite}-updates main`);
  if (archives.securityUri) lines.push(`deb ${archives.securityUri} ${suite}-security main`);
  return lines;
}

export function parseDeb822Sources(text: string): SourceEntry[] {
  const entries: SourceEntry[] = [];
  for (const stanza of text.split(/\n\s*\n/)) {
    const fields = new Map<string, string>();
    let last: string | undefined;
    for (const line of stanza.split('\n')) {
      if (line.startsWith('#') || line.trim() === '') continue;
      if (/^\s/.test(line) && last) {
        fields.set(last, `${fields.get(last) ?? ''} ${line.trim()}`);
        continue;
      }
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon).trim().toLowerCase();
      fields.set(last, line.slice(colon + 1).trim());
    }
    if ((fields.get('enabled') ?? 'yes').toLowerCase() === 'no') continue;
    const words = (key: string) => (fields.get(key) ?? '').split(/\s+/).filter(Boolean);
    if (fields.has('uris')) entries.push({ types: words('types'), uris: words('uris'), suites: words('suites') });
  }
  return entries;
}

export function parseOneLineSources(text: string): SourceEntry[] {
  const entries: SourceEntry[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*/, '').replace(/\[[^\]]*\]/, ' ').trim();
    const [type, uri, suite] = line.split(/\s+/);
    if (type && uri && suite) entries.push({ types: [type], uris: [uri], suites: [suite] });
  }
  return entries;
}

async function readOptional(path: string): Promise<string | undefined> {
  return readFile(path, 'utf8').catch(() => undefined);
}

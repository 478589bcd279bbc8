/** A host's tags as stored (a JSON array; PGlite and node-postgres may hand it back parsed or as text). */
import type { Host } from '../../db/schema.js';

export function tagsOf(host: Pick<Host, 'tags'>): string[] {
  const t = typeof host.tags === 'string' ? (JSON.parse(host.tags) as unknown) : host.tags;
  return Array.isArray(t) ? t.filter((x): x is string => typeof x === 'string') : [];
}

/** Ids on the wire are prefixed strings: cl- capsule, usr-, team-, key-, host-, bld-, log-. */
import { randomBytes } from 'node:crypto';

export type IdPrefix = 'cl' | 'usr' | 'team' | 'key' | 'host' | 'bld' | 'log' | 'htok' | 'sec' | 'ch' | 'evt';

const ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

export function newId(prefix: IdPrefix, length = 16): string {
  const bytes = randomBytes(length);
  let out = '';
  for (const b of bytes) out += ALPHABET[b % ALPHABET.length];
  return `${prefix}-${out}`;
}

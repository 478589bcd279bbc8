/**
 * The wire speaks snake_case; the SDK speaks camelCase. Responses are converted key by key,
 * except inside user maps (metadata, envs, ...), whose keys are data, not field names.
 */
const OPAQUE_KEYS = new Set(['metadata', 'envs', 'default_env', 'details', 'labels']);

function camelKey(key: string): string {
  return key.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function camelize<T>(value: unknown): T {
  if (Array.isArray(value)) return value.map((v) => camelize(v)) as T;
  if (value === null || typeof value !== 'object') return value as T;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    out[camelKey(k)] = OPAQUE_KEYS.has(k) ? v : camelize(v);
  }
  return out as T;
}

/** Drops undefined fields so optional options are not sent as explicit nulls. */
export function compact<T extends Record<string, unknown>>(o: T): Partial<T> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) if (v !== undefined) out[k] = v;
  return out as Partial<T>;
}

/**
 * Reading numbers from the environment (and command-line options), once, at start-up,
 * failing fast with the variable's name.
 *
 * @example const port = int(process.env, 'WRENN_CP_PORT', 8080, 1);
 */

/** `raw` as an integer ≥ `min`; `fallback` when it is unset or empty; anything else throws naming `name`. */
export function intFrom(name: string, raw: string | undefined, fallback: number, min = 0): number {
  if (raw === undefined || raw === '') return fallback;
  // Digits only: `1e3`, `0x10`, ` 5` or `5.0` are mistakes, not numbers to guess at.
  const n = /^-?\d+$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < min) throw new Error(`${name} must be an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** The integer variable `name` of `env` (see `intFrom`). */
export function int(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  return intFrom(name, env[name], fallback, min);
}

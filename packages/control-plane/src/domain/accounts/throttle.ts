/**
 * Brute-force protection for logins and activation tokens. Every failed attempt is a row
 * in `auth_failures`, counted against what it tried (an email, a client address); once a
 * key has `loginMaxFailures` failures within the last `loginWindowSec` (a sliding window),
 * attempts for it are refused with `too_many_attempts` (429, Retry-After) before any
 * credential is checked, until the oldest of those failures leaves the window. The rows
 * live in the database, so every replica counts the same attempts, and all times come
 * from the database's clock, so replicas' clocks do not matter.
 *
 * An attempt is recorded before its credentials are checked and counts itself, so a burst
 * of parallel guesses cannot all pass the check before any of them is recorded: at most
 * `loginMaxFailures` attempts per key are ever checked within a window. Refused attempts
 * are not kept (a locked key unlocks on time even while someone keeps trying), and
 * rows older than the window are deleted on write, at most once a minute per replica.
 *
 * @example
 * const session = await throttled(ctx, [{ scope: 'login_ip', key: clientAddressKey(ip) }], { locked }, () => checkCredentials());
 */
import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ContextBase } from '../../context-base.js';
import type { AuthFailuresTable } from '../../db/schema.js';

export type ThrottleScope = AuthFailuresTable['scope'];

export interface ThrottleKey {
  scope: ThrottleScope;
  key: string;
  /** Failures in the window that lock this key (default `loginMaxFailures`). */
  max?: number;
  /**
   * A soft key (a client address) does not lock out an attempt whose other keys have no
   * failure at all in the window: a sprayer sharing a NAT with a user cannot lock that
   * user out. Such an attempt is checked; if it fails it is refused as locked (429), so a
   * locked address learns nothing from it.
   */
  soft?: boolean;
}

export interface ThrottleOptions {
  /** Keys whose failures a success wipes (a good login resets its email, not its address). */
  resetOnSuccess?: ThrottleKey[];
  /** The refusal to throw when a key is locked (`retryAfterSec` ≥ 1: when the first attempt will be checked again). */
  locked(scope: ThrottleScope, retryAfterSec: number): WrennError;
  /** The errors of `attempt` that count as a failed guess (default: WrennError `unauthenticated`). */
  isFailure?: (err: unknown) => boolean;
}

/** Stale rows are deleted at most this often per replica. */
const PRUNE_INTERVAL_MS = 60_000;

/** The database, configuration and this process's pruning clock (`ctx.throttle`). */
type ThrottleContext = ContextBase & { readonly throttle: ThrottlePruning };

/** When this process last deleted stale `auth_failures` rows (`ctx.throttle`). */
export class ThrottlePruning {
  private lastPruneMs = 0;

  /** True (and noted) when a prune is due for a window of `windowSec`. */
  due(windowSec: number, now = Date.now()): boolean {
    if (now - this.lastPruneMs < Math.min(PRUNE_INTERVAL_MS, windowSec * 1000)) return false;
    this.lastPruneMs = now;
    return true;
  }

  close(): void {
    this.lastPruneMs = 0;
  }
}

/**
 * The key a client address is counted under: IPv4 as is (also when IPv4-mapped), IPv6 by
 * its /64, since one host or subscriber usually holds a whole /64 and could otherwise
 * change address for every guess.
 */
export function clientAddressKey(ip: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!ip.includes(':')) return ip;
  const [head = '', tail] = ip.split('%')[0]!.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - h.length - t.length)).fill('0'), ...t];
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

async function pruneIfDue(ctx: ThrottleContext, windowSec: number): Promise<void> {
  if (!ctx.throttle.due(windowSec)) return;
  try {
    await ctx.db.deleteFrom('auth_failures').where('failed_at', '<=', sql<Date>`now() - make_interval(secs => ${windowSec}::double precision)`).execute();
  } catch (err) {
    // Stale rows are only clutter (they are outside every window): never fail a login over them.
    ctx.logger.warn({ err }, 'could not prune old auth_failures rows');
  }
}

interface KeyState {
  scope: ThrottleScope;
  key: string;
  failures: number;
  /** Set when locked: seconds until the oldest failure that keeps it locked leaves the window. */
  retryAfterSec?: number;
}

/**
 * Each key's failures in the window other than this attempt's own rows, and whether it is
 * locked (at least its `max`), with the seconds until it unlocks.
 */
async function keyStates(ctx: ThrottleContext, keys: ThrottleKey[], ownIds: string[], windowSec: number): Promise<KeyState[]> {
  const window = sql`make_interval(secs => ${windowSec}::double precision)`;
  const matches = sql.join(keys.map((k) => sql`(scope = ${k.scope} and key = ${k.key})`), sql` or `);
  const limit = sql`case ${sql.join(keys.map((k) => sql`when scope = ${k.scope} and key = ${k.key} then ${k.max ?? ctx.config.loginMaxFailures}::int`), sql` `)} end`;
  const { rows } = await sql<{ scope: ThrottleScope; key: string; failures: string | number; remaining: string | number | null }>`
    select scope, key, count(*) as failures,
      max(case when rn = lim then extract(epoch from (failed_at + ${window} - now())) end) as remaining
    from (
      select scope, key, failed_at, ${limit} as lim, row_number() over (partition by scope, key order by failed_at desc) as rn
      from auth_failures
      where (${matches}) and failed_at > now() - ${window} and id not in (${sql.join(ownIds)})
    ) newest
    group by scope, key`.execute(ctx.db);
  return rows.map((r) => ({
    scope: r.scope,
    key: r.key,
    failures: Number(r.failures),
    ...(r.remaining === null ? {} : { retryAfterSec: Math.max(1, Math.ceil(Number(r.remaining))) }),
  }));
}

/**
 * Runs `attempt` unless one of `keys` is locked. A failure (`isFailure`; by default a
 * WrennError `unauthenticated`) stays counted; success forgets this attempt (and wipes `resetOnSuccess`);
 * any other error (bad input, server fault) is not held against the keys.
 */
export async function throttled<T>(ctx: ThrottleContext, keys: ThrottleKey[], opts: ThrottleOptions, attempt: () => Promise<T>): Promise<T> {
  const { loginWindowSec: windowSec } = ctx.config;
  await pruneIfDue(ctx, windowSec);
  const rows = keys.map((k) => ({ id: randomUUID(), scope: k.scope, key: k.key }));
  const ownIds = rows.map((r) => r.id);
  const forgetOwn = async (also: ThrottleKey[] = []): Promise<void> => {
    await ctx.db
      .deleteFrom('auth_failures')
      .where((eb) => eb.or([eb('id', 'in', ownIds), ...also.map((k) => eb.and([eb('scope', '=', k.scope), eb('key', '=', k.key)]))]))
      .execute();
  };

  await ctx.db.insertInto('auth_failures').values(rows).execute();
  let states: KeyState[];
  try {
    states = await keyStates(ctx, keys, ownIds, windowSec);
  } catch (err) {
    await forgetOwn().catch(() => {});
    throw err;
  }
  const isSoft = (st: KeyState): boolean => keys.some((k) => k.soft && k.scope === st.scope && k.key === st.key);
  const locked = states.filter((st) => st.retryAfterSec !== undefined) as Array<KeyState & { retryAfterSec: number }>;
  const lockedHard = locked.filter((st) => !isSoft(st));
  // Only soft keys locked, and the hard keys spotless: check the credentials anyway.
  const softPass = locked.length > 0 && lockedHard.length === 0 && states.every((st) => isSoft(st) || st.failures === 0);
  const longest = locked.reduce<(KeyState & { retryAfterSec: number }) | undefined>((a, b) => (a && a.retryAfterSec >= b.retryAfterSec ? a : b), undefined);
  if (longest && !softPass) {
    await forgetOwn();
    throw opts.locked(longest.scope, longest.retryAfterSec);
  }

  let result: T;
  try {
    result = await attempt();
  } catch (err) {
    const failed = opts.isFailure ? opts.isFailure(err) : err instanceof WrennError && err.code === 'unauthenticated';
    if (!failed) await forgetOwn().catch(() => {});
    if (failed && softPass && longest) throw opts.locked(longest.scope, longest.retryAfterSec);
    throw err;
  }
  // The credentials were good: a failure to tidy up must not turn the success into an error
  // (at worst this attempt keeps counting as a failure until it leaves the window).
  await forgetOwn(opts.resetOnSuccess).catch((err: unknown) => ctx.logger.warn({ err }, 'could not reset auth_failures after a success'));
  return result;
}

/**
 * Keeps an open capsule WebSocket from outliving its credentials. The socket authenticated
 * once (ws-auth.ts); this re-checks the same credentials while it is open, and closes it
 * with `{type:"error",code:"unauthenticated"}` and 4401 once they no longer give access to
 * the capsule's team: API key revoked, member removed, user disabled or deleted, sessions
 * ended (password changed, logout-all), JWT expired.
 *
 * When: every WRENN_WS_REAUTH_SEC, and at once (next tick, coalesced) whenever this
 * replica's principal cache is invalidated, which every such change made through this
 * control plane does. A change made elsewhere (another replica, SQL by hand) is seen within
 * WRENN_WS_REAUTH_SEC + WRENN_AUTH_CACHE_TTL_SEC: the periodic check may read a cached entry.
 *
 * A check that fails for any other reason (the database unreachable) is logged and tried
 * again at the next one: an outage must not close every terminal.
 */
import { decodeJwt } from 'jose';
import { WrennError, type Logger } from '@wrenn/shared';
import type { ControlPlaneContext } from '../context.js';
import { authorize, resolvePrincipal } from '../domain/accounts/principal.js';
import { CAPSULE_ACCESS, type OpenedCapsule } from './ws-auth.js';
import type { WsChannel } from './ws-channel.js';

/** setTimeout's longest delay (~24.8 days); a token living longer is caught by the periodic check. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * When a JWT says it expires (its `exp` claim, read without verifying: only to schedule a
 * check, which verifies); undefined if it says nothing readable.
 */
function jwtExpiryMs(token: string): number | undefined {
  try {
    const { exp } = decodeJwt(token);
    return exp === undefined ? undefined : exp * 1000;
  } catch {
    return undefined;
  }
}

/** Codes that mean "these credentials no longer give access", as opposed to "could not tell". */
const REFUSALS: ReadonlySet<string> = new Set(['unauthenticated', 'permission_denied']);

/**
 * Starts watching `opened.credentials`; returns the function that stops it (also stopped when
 * the channel closes or the credentials are refused). `onRevoked` learns the error the
 * socket was closed with, before the close.
 * @example
 * const stop = watchCredentials(ctx, channel, opened, log, (err) => (outcome = err.code));
 * try { await serve(channel, opened, log); } finally { stop(); }
 */
export function watchCredentials(
  ctx: ControlPlaneContext,
  channel: WsChannel,
  opened: OpenedCapsule,
  log: Logger,
  onRevoked?: (err: WrennError) => void,
): () => void {
  const teamId = opened.principal.kind === 'host' ? undefined : opened.principal.teamId;
  let stopped = false;
  let running = false;
  let wanted = false;

  const check = async (): Promise<void> => {
    try {
      const principal = authorize(await resolvePrincipal(ctx, opened.credentials), CAPSULE_ACCESS);
      // Credentials name their team (a key belongs to one, a JWT carries one), so this
      // holds unless something is badly wrong; checked because it is the one invariant.
      if (principal.kind === 'host' || principal.teamId !== teamId) throw new WrennError('unauthenticated', 'the credentials now act for another team');
    } catch (err) {
      if (stopped) return;
      if (err instanceof WrennError && REFUSALS.has(err.code)) {
        revoke(new WrennError('unauthenticated', `the socket's credentials are no longer valid (${err.message})`));
        return;
      }
      log.warn({ err }, 'could not re-check the WebSocket credentials; trying again at the next check');
    }
  };

  // One check at a time; a request during a check runs one more after it, since that
  // check may have read the state from before the change.
  const run = async (): Promise<void> => {
    running = true;
    while (wanted && !stopped) {
      wanted = false;
      await check();
    }
    running = false;
  };
  const schedule = (): void => {
    if (stopped || wanted) return;
    wanted = true;
    if (!running) setImmediate(() => void run());
  };

  const timer = setInterval(schedule, ctx.config.wsReauthSec * 1000);
  timer.unref();
  const unsubscribe = ctx.principals.onInvalidate(schedule);
  // A JWT's end is known: checked then, not up to WRENN_WS_REAUTH_SEC later.
  const expiresAtMs = opened.credentials.bearer ? jwtExpiryMs(opened.credentials.bearer) : undefined;
  const expiry = expiresAtMs === undefined ? undefined : setTimeout(schedule, Math.min(Math.max(0, expiresAtMs - Date.now() + 10), MAX_TIMER_MS));
  expiry?.unref();

  const stop = (): void => {
    if (stopped) return;
    stopped = true;
    clearInterval(timer);
    clearTimeout(expiry);
    unsubscribe();
  };

  function revoke(err: WrennError): void {
    stop();
    log.info({ code: err.code, msg: err.message }, 'WebSocket credentials no longer valid: closing it');
    onRevoked?.(err);
    void channel.revoke(err);
  }

  channel.onClose(stop);
  return stop;
}

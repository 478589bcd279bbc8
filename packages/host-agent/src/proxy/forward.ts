/**
 * The last hop: from the agent to a port of a capsule (its address on the host's capsule
 * network). Plain node:http and node:net rather than the `http-proxy` package: each
 * exchange must hand its sockets to its capsule's connection set (drain and destroy close
 * them), dial retries must stop once the exchange is closed, and an Upgrade is a byte
 * tunnel either way; http-proxy would hide the sockets behind its own events, and the
 * maintained fork (http-proxy-3) needs Node 22.
 */
import type { Agent as HttpAgent, IncomingMessage, ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WrennError } from '@wrenn/shared';
import {
  PROXY_HEADERS,
  forwardHeaders,
  forwardHttpExchange,
  isDialError,
  isSafeMethod,
  isStaleReuse,
  tunnelUpgrade,
  type AttemptState,
  type RetryDecision,
} from '@wrenn/shared/proxy';
import type { Exchange } from './capsule-connections.js';

export interface CapsuleTarget {
  capsuleId: string;
  address: string;
  port: number;
}

/** docs/decisions.md#h10: a port that is just opening gets a few tries before the caller sees 502. */
const DIAL_ATTEMPTS = 3;
const DIAL_BACKOFF_MS = [100, 300];
/** A capsule's TCP stack answers at once (even frozen); this only bounds a broken route. */
const DIAL_TIMEOUT_MS = 10_000;
/** The control plane's routing headers never reach the capsule. */
const AGENT_ONLY = new Set<string>(Object.values(PROXY_HEADERS));

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function nothingAnswered(target: CapsuleTarget, err: Error): WrennError {
  return new WrennError(
    'bad_gateway',
    `nothing answered on port ${target.port} of capsule ${target.capsuleId} (${(err as NodeJS.ErrnoException).code ?? err.message}): is a server listening on that port?`,
    { capsuleId: target.capsuleId, port: target.port },
  );
}

function connectOnce(target: CapsuleTarget): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: target.address, port: target.port });
    s.setNoDelay(true);
    s.setTimeout(DIAL_TIMEOUT_MS, () => s.destroy(Object.assign(new Error(`connect timed out after ${DIAL_TIMEOUT_MS} ms`), { code: 'ETIMEDOUT' })));
    s.once('connect', () => {
      s.setTimeout(0);
      s.off('error', reject);
      resolve(s);
    });
    s.once('error', reject);
  });
}

/** A TCP connection to the capsule's port, retried while the port is just opening. */
export async function dialCapsule(target: CapsuleTarget, exchange: Exchange): Promise<Socket> {
  for (let attempt = 1; ; attempt++) {
    try {
      const s = await connectOnce(target);
      exchange.own(s);
      return s;
    } catch (err) {
      if (!isDialError(err) || attempt >= DIAL_ATTEMPTS || exchange.closed) throw nothingAnswered(target, err as Error);
      await sleep(DIAL_BACKOFF_MS[attempt - 1] ?? 300);
    }
  }
}

/** Calls `fn` at most once per `ms` (activity stamps while bytes flow). */
export function throttle(fn: () => void, ms: number): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last < ms) return;
    last = now;
    fn();
  };
}

/**
 * One HTTP request to the capsule through its pool. The request body is only read once
 * the upstream socket is connected, so a refused dial can be retried with nothing lost.
 * A failure after the response started aborts the client's response (never a clean end
 * of a truncated body).
 */
export function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  target: CapsuleTarget,
  exchange: Exchange,
  pool: HttpAgent,
  activity: () => void,
  onDone: (status: number | 'aborted') => void,
): void {
  forwardHttpExchange({
    req,
    res,
    upstream: { host: target.address, port: target.port, agent: pool },
    headers: forwardHeaders(req.rawHeaders, { drop: AGENT_ONLY }),
    holdBodyUntilConnected: true,
    onSocket: (s) => exchange.own(s),
    onResponse: activity,
    onData: activity,
    retry: (err, state) => retryDelay(req, exchange, err, state),
    failure: (err) => nothingAnswered(target, err),
    onDone: (status) => {
      // Closed already: a drain or destroy force-closed it and accounted for it.
      if (exchange.closed) return;
      exchange.end();
      onDone(status);
    },
  });
}

function retryDelay(req: IncomingMessage, exchange: Exchange, err: Error, { attempt, reusedSocket, bodyStarted }: AttemptState): RetryDecision {
  if (attempt >= DIAL_ATTEMPTS || exchange.closed) return false;
  // A port that is just opening: nothing of the body went out yet.
  if (!bodyStarted && isDialError(err)) return DIAL_BACKOFF_MS[attempt - 1] ?? 300;
  // A pooled socket the capsule closed meanwhile: a safe method may go again.
  if (isStaleReuse(err, reusedSocket) && isSafeMethod(req.method)) return 0;
  return false;
}

/**
 * An Upgrade (WebSocket or any other protocol) becomes a byte tunnel to the capsule's
 * port; the client socket belongs to the exchange from the start, so a drain closes a
 * tunnel still dialling.
 */
export async function forwardUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  target: CapsuleTarget,
  exchange: Exchange,
  activity: () => void,
  onDone: (outcome: 'closed' | 'failed') => void,
): Promise<void> {
  exchange.own(client);
  await tunnelUpgrade({
    req,
    client,
    head,
    headers: forwardHeaders(req.rawHeaders, { upgrade: true, drop: AGENT_ONLY }),
    dial: () => dialCapsule(target, exchange),
    abandoned: () => exchange.closed,
    onData: activity,
    onDone: (outcome) => {
      exchange.end();
      onDone(outcome);
    },
  });
}

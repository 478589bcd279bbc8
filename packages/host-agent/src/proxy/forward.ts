/**
 * The last hop: from the agent to a port of a capsule (its address on the host's capsule
 * network). Plain node:http and node:net rather than the `http-proxy` package: each
 * exchange must hand its sockets to its capsule's connection set (drain and destroy close
 * them), dial retries must stop once the exchange is closed, and an Upgrade is a byte
 * tunnel either way; http-proxy would hide the sockets behind its own events, and the
 * maintained fork (http-proxy-3) needs Node 22.
 */
import { request as httpRequest, type Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WrennError } from '@wrenn/shared';
import { PROXY_HEADERS, forwardHeaders, isDialError, requestHead, writeSocketError } from '@wrenn/shared/proxy';
import type { Exchange } from './capsule-connections.js';

export interface CapsuleTarget {
  capsuleId: string;
  address: string;
  port: number;
}

/** H10: a port that is just opening gets a few tries before the caller sees 502. */
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
  const headers = forwardHeaders(req.rawHeaders, { drop: AGENT_ONLY });
  let bodyStarted = false;
  let attempt = 0;
  let upstream: ReturnType<typeof httpRequest> | undefined;
  const finish = (status: number | 'aborted') => {
    if (exchange.closed) return;
    exchange.end();
    onDone(status);
  };
  res.once('close', () => {
    if (!res.writableFinished) upstream?.destroy();
    finish(res.writableFinished ? res.statusCode : 'aborted');
  });
  req.once('error', () => upstream?.destroy());

  const send = () => {
    attempt++;
    // setHost false: the client's own Host header goes through (apps in the capsule check it).
    const up = httpRequest({ host: target.address, port: target.port, method: req.method, path: req.url, headers, agent: pool, setHost: false });
    upstream = up;
    up.once('socket', (s) => {
      exchange.own(s);
      const start = () => {
        if (bodyStarted) return;
        bodyStarted = true;
        // A retry after the body was already read (a GET whose pooled socket was stale).
        if (req.readableEnded) up.end();
        else req.pipe(up);
      };
      if (s.connecting) s.once('connect', start);
      else start();
    });
    up.once('response', (ur) => {
      activity();
      res.writeHead(ur.statusCode ?? 502, ur.statusMessage, forwardHeaders(ur.rawHeaders));
      ur.on('data', activity);
      ur.pipe(res);
      ur.once('close', () => {
        if (!ur.complete) res.destroy();
      });
    });
    up.on('error', (err) => {
      const reused = up.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET';
      const retryable = !bodyStarted && isDialError(err);
      // A pooled socket the capsule closed meanwhile: safe to send again when nothing of a
      // body went out and the method is safe.
      const staleSafe = reused && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS');
      if ((retryable || staleSafe) && attempt < DIAL_ATTEMPTS && !exchange.closed) {
        if (staleSafe) bodyStarted = false;
        setTimeout(send, retryable ? (DIAL_BACKOFF_MS[attempt - 1] ?? 300) : 0);
        return;
      }
      if (res.headersSent || res.destroyed) res.destroy();
      else sendJsonError(res, nothingAnswered(target, err));
    });
  };
  send();
}

/**
 * An Upgrade (WebSocket or any other protocol) becomes a byte tunnel to the capsule's
 * port: the request head is written as received (minus the per-hop and routing headers);
 * the capsule's answer, 101 or not, goes back as it is.
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
  client.on('error', () => client.destroy());
  let upstream: Socket;
  try {
    upstream = await dialCapsule(target, exchange);
  } catch (err) {
    writeSocketError(client, err as WrennError);
    exchange.end();
    onDone('failed');
    return;
  }
  if (exchange.closed || client.destroyed) {
    upstream.destroy();
    exchange.end();
    onDone('failed');
    return;
  }
  upstream.write(requestHead(req.method ?? 'GET', req.url ?? '/', forwardHeaders(req.rawHeaders, { upgrade: true, drop: AGENT_ONLY })));
  if (head.length > 0) upstream.write(head);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    upstream.destroy();
    client.destroy();
    exchange.end();
    onDone('closed');
  };
  upstream.on('error', close).on('close', close).on('data', activity);
  client.on('error', close).on('close', close).on('data', activity);
  upstream.pipe(client);
  client.pipe(upstream);
}

export function sendJsonError(res: ServerResponse, err: WrennError): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(err.toJSON());
  res.writeHead(err.httpStatus, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

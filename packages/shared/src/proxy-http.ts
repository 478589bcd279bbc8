/**
 * Plumbing shared by both hops of the capsule port proxy (control plane → host agent
 * proxy → capsule): the routing headers of the middle hop, which headers belong to one
 * hop only and are never forwarded (RFC 9110 §7.6.1), how a raw socket (an Upgrade
 * request, which has no ServerResponse) gets an HTTP error answer, and the relay of one
 * HTTP exchange or one Upgrade tunnel (each hop brings its own target, retry policy and
 * socket ownership).
 */
import { STATUS_CODES, request as httpRequest, type Agent as HttpAgent, type ClientRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WrennError } from './errors.js';

/** Headers the control plane adds on its way to a host agent's proxy (never forwarded to a capsule). */
export const PROXY_HEADERS = {
  capsuleId: 'x-wrenn-capsule-id',
  capsulePort: 'x-wrenn-capsule-port',
  /**
   * The agent token. Not `Authorization`: that header belongs to the proxied request (envd
   * takes the acting user from `Authorization: Basic`), so it passes through untouched.
   */
  agentToken: 'x-wrenn-agent-token',
} as const;

/** Per-hop headers (RFC 9110 §7.6.1), plus the proxy-only ones of other proxies. */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);

export interface ForwardOptions {
  /** An Upgrade request: `Connection: Upgrade` and `Upgrade` go through (the tunnel is end to end). */
  upgrade?: boolean;
  /** Lower-case names to drop besides the per-hop ones. */
  drop?: ReadonlySet<string>;
  /** Appended after the forwarded headers. */
  add?: ReadonlyArray<readonly [string, string]>;
}

/**
 * Filters `rawHeaders` (name, value, name, value, ...: case and repeats kept) for the next
 * hop: per-hop headers and those named by `Connection` go, `drop` goes, `add` is appended.
 */
export function forwardHeaders(rawHeaders: readonly string[], opts: ForwardOptions = {}): string[] {
  const named = new Set<string>();
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'connection') for (const t of rawHeaders[i + 1]!.split(',')) named.add(t.trim().toLowerCase());
  }
  const out: string[] = [];
  let upgrade: string | undefined;
  for (let i = 0; i < rawHeaders.length; i += 2) {
    const name = rawHeaders[i]!;
    const lower = name.toLowerCase();
    if (lower === 'upgrade') upgrade = rawHeaders[i + 1];
    if (HOP_BY_HOP.has(lower) || named.has(lower) || opts.drop?.has(lower)) continue;
    out.push(name, rawHeaders[i + 1]!);
  }
  if (opts.upgrade && upgrade !== undefined) out.push('Connection', 'Upgrade', 'Upgrade', upgrade);
  for (const [k, v] of opts.add ?? []) out.push(k, v);
  return out;
}

/** The request line and headers of an HTTP/1.1 request, as written on a raw connection. */
export function requestHead(method: string, url: string, rawHeaders: readonly string[]): string {
  let head = `${method} ${url} HTTP/1.1\r\n`;
  for (let i = 0; i < rawHeaders.length; i += 2) head += `${rawHeaders[i]}: ${rawHeaders[i + 1]}\r\n`;
  return `${head}\r\n`;
}


/** `{"error":{"code","message"}}` with the code's status on a raw socket, then closes it. */
export function writeSocketError(socket: Duplex, err: WrennError): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(err.toJSON());
  socket.end(
    `HTTP/1.1 ${err.httpStatus} ${STATUS_CODES[err.httpStatus] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Errors of a connection that never opened (safe to dial again: nothing was sent). */
export function isDialError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN';
}

/** `{"error":{"code","message"}}` with the code's status, or a cut when the response already started. */
export function sendJsonError(res: ServerResponse, err: WrennError): void {
  if (res.headersSent || res.destroyed) {
    res.destroy();
    return;
  }
  const body = JSON.stringify(err.toJSON());
  res.writeHead(err.httpStatus, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** Methods that may be sent twice: a request lost on a stale pooled socket is sent again. */
export function isSafeMethod(method: string | undefined): boolean {
  return method === 'GET' || method === 'HEAD' || method === 'OPTIONS';
}

/** The peer closed a pooled socket while it sat idle: the request never reached it. */
export function isStaleReuse(err: Error, reusedSocket: boolean): boolean {
  return reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET';
}

/** What the failed attempt had done, for the caller's retry policy. */
export interface AttemptState {
  /** 1 for the first. */
  attempt: number;
  reusedSocket: boolean;
  /** Some of the request body may have gone out. */
  bodyStarted: boolean;
}

/** false: fail; 'now': send again at once; a number: send again after that many ms. */
export type RetryDecision = false | 'now' | number;

export interface Upstream {
  host: string;
  port: number | string;
  /** A keep-alive pool. */
  agent: HttpAgent;
}

export interface HttpExchangeOptions {
  req: IncomingMessage;
  res: ServerResponse;
  /** Where each attempt goes; method, path and headers are the request's. */
  upstream: Upstream;
  /** Already filtered for the next hop. */
  headers: string[];
  /**
   * The body is read only once the socket is connected, so a refused dial can be tried
   * again with nothing of it lost (the caller retries dial errors).
   */
  holdBodyUntilConnected?: boolean;
  onSocket?: (socket: Socket) => void;
  onResponse?: () => void;
  onData: () => void;
  retry: (err: Error, state: AttemptState) => RetryDecision;
  /** The 502 body when no attempt got a response. */
  failure: (err: Error) => WrennError;
  /** The status sent, or 'aborted' when the response was cut (never a clean end of a truncated body). */
  onDone: (status: number | 'aborted') => void;
}

/**
 * One HTTP request and its response, relayed to an upstream. A cut on either side is
 * passed on to the other: a client gone destroys the upstream request, an upstream
 * response that ends early destroys the client's.
 */
export function forwardHttpExchange(opts: HttpExchangeOptions): void {
  const { req, res } = opts;
  let upstream: ClientRequest | undefined;
  let attempt = 0;
  res.once('close', () => {
    if (!res.writableFinished) upstream?.destroy();
    opts.onDone(res.writableFinished ? res.statusCode : 'aborted');
  });
  req.once('error', () => upstream?.destroy());
  const send = () => {
    attempt++;
    // setHost false: the client's own Host header goes through (apps in the capsule check it).
    const { host, port, agent } = opts.upstream;
    // A literal, not a spread: a spread options object costs ~3 µs per request in http.request.
    const up = httpRequest({ host, port, agent, method: req.method, path: req.url, headers: opts.headers, setHost: false });
    upstream = up;
    const body = { started: false };
    up.once('response', (ur) => relayResponse(ur, res, opts));
    // A 101 to a request that asked for no upgrade (a misbehaving server in the capsule):
    // Node hands it to this listener instead of 'response', or with none would leave the
    // client waiting for an answer that never comes. It is a bad gateway, answered at once.
    up.once('upgrade', (_ur, socket) => {
      socket.destroy();
      sendJsonError(res, new WrennError('bad_gateway', 'the upstream answered 101 Switching Protocols to a request that asked for no upgrade'));
    });
    up.on('error', (err) => {
      const next = opts.retry(err, { attempt, reusedSocket: up.reusedSocket, bodyStarted: body.started });
      if (next === 'now') send();
      else if (next !== false) setTimeout(send, next);
      else sendJsonError(res, opts.failure(err));
    });
    if (opts.onSocket) up.once('socket', opts.onSocket);
    sendBody(up, opts, body);
  };
  send();
}

function sendBody(up: ClientRequest, opts: HttpExchangeOptions, body: { started: boolean }): void {
  const start = () => {
    if (body.started) return;
    body.started = true;
    // On a retry the body may already have been read (a GET whose pooled socket was stale).
    if (opts.req.readableEnded) up.end();
    else opts.req.pipe(up);
  };
  if (!opts.holdBodyUntilConnected) return start();
  up.once('socket', (s) => {
    if (s.connecting) s.once('connect', start);
    else start();
  });
}

function relayResponse(ur: IncomingMessage, res: ServerResponse, opts: HttpExchangeOptions): void {
  opts.onResponse?.();
  res.writeHead(ur.statusCode ?? 502, ur.statusMessage, forwardHeaders(ur.rawHeaders));
  ur.on('data', opts.onData);
  ur.pipe(res);
  ur.once('close', () => {
    if (!ur.complete) res.destroy();
  });
}

export interface TunnelOptions {
  req: IncomingMessage;
  client: Duplex;
  /** Bytes the client sent after the request head. */
  head: Buffer;
  /** Already filtered for the next hop (see forwardHeaders' `upgrade`). */
  headers: string[];
  /** Rejects with the WrennError the client is answered with (unless it already left). */
  dial: () => Promise<Duplex>;
  /** The caller gave up on the tunnel while the dial was running. */
  abandoned?: () => boolean;
  onData: () => void;
  /** 'failed' when the tunnel never opened. */
  onDone: (outcome: 'closed' | 'failed') => void;
}

/**
 * An Upgrade (WebSocket or any other protocol) as a byte tunnel: the request head is
 * written as received (minus the filtered headers), and the upstream's answer, 101 or
 * not, goes back as it is. Either side closing closes both.
 */
export async function tunnelUpgrade(opts: TunnelOptions): Promise<void> {
  const { client } = opts;
  client.on('error', () => client.destroy());
  let upstream: Duplex;
  try {
    upstream = await opts.dial();
  } catch (err) {
    writeSocketError(client, err as WrennError);
    opts.onDone('failed');
    return;
  }
  if (client.destroyed || opts.abandoned?.()) {
    upstream.destroy();
    opts.onDone('failed');
    return;
  }
  splice(client, upstream, opts);
}

function splice(client: Duplex, upstream: Duplex, opts: TunnelOptions): void {
  upstream.write(requestHead(opts.req.method ?? 'GET', opts.req.url ?? '/', opts.headers));
  if (opts.head.length > 0) upstream.write(opts.head);
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    upstream.destroy();
    client.destroy();
    opts.onDone('closed');
  };
  upstream.on('error', close).on('close', close).on('data', opts.onData);
  client.on('error', close).on('close', close).on('data', opts.onData);
  upstream.pipe(client);
  client.pipe(upstream);
}

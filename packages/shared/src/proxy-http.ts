/**
 * Plumbing shared by both hops of the capsule port proxy (control plane → host agent
 * proxy → capsule): the routing headers of the middle hop, which headers belong to one
 * hop only and are never forwarded (RFC 9110 §7.6.1), and how a raw socket (an Upgrade
 * request, which has no ServerResponse) gets an HTTP error answer.
 */
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

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 404: 'Not Found', 409: 'Conflict', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' };

/** `{"error":{"code","message"}}` with the code's status on a raw socket, then closes it. */
export function writeSocketError(socket: Duplex, err: WrennError): void {
  if (socket.destroyed || !socket.writable) {
    socket.destroy();
    return;
  }
  const body = JSON.stringify(err.toJSON());
  socket.end(
    `HTTP/1.1 ${err.httpStatus} ${REASONS[err.httpStatus] ?? 'Error'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}

/** Errors of a connection that never opened (safe to dial again: nothing was sent). */
export function isDialError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException)?.code;
  return code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH' || code === 'EAI_AGAIN';
}

/**
 * The control plane's hop: a proxied request goes to its capsule's host agent proxy
 * listener, with the agent token and the target in PROXY_HEADERS, over a keep-alive pool
 * per agent (separate from the RPC connections, H9: a busy dev server never slows exec or
 * terminals). Plain node:http/net, as on the agent (see host-agent/src/proxy/forward.ts);
 * an Upgrade is a byte tunnel to the agent, whose answer (101 or an error) passes through.
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WrennError } from '@wrenn/shared';
import { PROXY_HEADERS, forwardHeaders, requestHead, writeSocketError } from '@wrenn/shared/proxy';
import type { ProxyAddress } from './proxy-address.js';
import { SANDBOX_ID_HEADER, SANDBOX_PORT_HEADER } from './proxy-address.js';
import type { ProxyRoute } from './proxy-target.js';

/** Routing headers of clients (ours and E2B's) never travel on: the control plane sets its own. */
const ROUTING = new Set<string>([...Object.values(PROXY_HEADERS), SANDBOX_ID_HEADER, SANDBOX_PORT_HEADER, 'x-forwarded-for']);

function agentHeaders(req: IncomingMessage, route: ProxyRoute, address: ProxyAddress, upgrade: boolean): string[] {
  const prior = req.headers['x-forwarded-for'];
  const client = req.socket.remoteAddress ?? '';
  return forwardHeaders(req.rawHeaders, {
    upgrade,
    drop: ROUTING,
    add: [
      ['X-Forwarded-For', prior ? `${Array.isArray(prior) ? prior.join(', ') : prior}, ${client}` : client],
      [PROXY_HEADERS.agentToken, route.agentToken],
      [PROXY_HEADERS.capsuleId, address.capsuleId],
      [PROXY_HEADERS.capsulePort, String(address.port)],
    ],
  });
}

function agentUnreachable(route: ProxyRoute, err: Error): WrennError {
  return new WrennError('bad_gateway', `the proxy of host ${route.hostId} (${route.proxyUrl}) did not answer: ${(err as NodeJS.ErrnoException).code ?? err.message}`, {
    capsuleId: route.capsuleId,
    hostId: route.hostId,
  });
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

/** Keep-alive pools to agents' proxy listeners, by URL (a host that moves gets a new one). */
export class AgentProxyPools {
  private readonly pools = new Map<string, HttpAgent>();

  get(url: string): HttpAgent {
    let pool = this.pools.get(url);
    if (!pool) {
      // Idle sockets close after 30 s, before the agent's own 65 s keep-alive ends them.
      pool = new HttpAgent({ keepAlive: true, maxSockets: 1024, maxFreeSockets: 64, timeout: 30_000 });
      this.pools.set(url, pool);
    }
    return pool;
  }

  close(): void {
    for (const p of this.pools.values()) p.destroy();
    this.pools.clear();
  }
}

/**
 * One HTTP exchange through the agent. `onDone` gets the status sent, or 'aborted' when
 * the response was cut (client gone, capsule paused or destroyed mid-response: the cut is
 * passed on, never a clean end of a truncated body).
 */
export function forwardRequest(
  req: IncomingMessage,
  res: ServerResponse,
  route: ProxyRoute,
  address: ProxyAddress,
  pool: HttpAgent,
  onData: () => void,
  onDone: (status: number | 'aborted') => void,
): void {
  const url = new URL(route.proxyUrl);
  const headers = agentHeaders(req, route, address, false);
  let upstream: ReturnType<typeof httpRequest> | undefined;
  let attempts = 0;
  let finished = false;
  res.once('close', () => {
    if (!res.writableFinished) upstream?.destroy();
    if (!finished) {
      finished = true;
      onDone(res.writableFinished ? res.statusCode : 'aborted');
    }
  });
  req.once('error', () => upstream?.destroy());
  const send = () => {
    attempts++;
    const up = httpRequest({ hostname: url.hostname, port: url.port, method: req.method, path: req.url, headers, agent: pool, setHost: false });
    upstream = up;
    up.once('response', (ur) => {
      res.writeHead(ur.statusCode ?? 502, ur.statusMessage, forwardHeaders(ur.rawHeaders));
      ur.on('data', onData);
      ur.pipe(res);
      ur.once('close', () => {
        if (!ur.complete) res.destroy();
      });
    });
    up.on('error', (err) => {
      // A pooled socket the agent closed meanwhile: a request without a body is sent again.
      const stale = up.reusedSocket && (err as NodeJS.ErrnoException).code === 'ECONNRESET' && req.readableEnded && !res.headersSent;
      if (stale && attempts < 2 && (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS')) {
        send();
        return;
      }
      if (res.headersSent || res.destroyed) res.destroy();
      else sendJsonError(res, agentUnreachable(route, err));
    });
    if (req.readableEnded) up.end();
    else req.pipe(up);
  };
  send();
}

/** An Upgrade through the agent: a byte tunnel; `onDone` when either side closes. */
export function forwardUpgrade(
  req: IncomingMessage,
  client: Duplex,
  head: Buffer,
  route: ProxyRoute,
  address: ProxyAddress,
  onData: () => void,
  onDone: (outcome: 'closed' | 'failed') => void,
): void {
  const url = new URL(route.proxyUrl);
  const upstream: Socket = connect({ host: url.hostname, port: Number(url.port || 80) });
  upstream.setNoDelay(true);
  let open = false;
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    upstream.destroy();
    client.destroy();
    onDone(open ? 'closed' : 'failed');
  };
  upstream.once('error', (err) => {
    if (!open) {
      closed = true;
      writeSocketError(client, agentUnreachable(route, err));
      onDone('failed');
      return;
    }
    close();
  });
  client.on('error', close);
  upstream.once('connect', () => {
    if (client.destroyed) return close();
    open = true;
    upstream.write(requestHead(req.method ?? 'GET', req.url ?? '/', agentHeaders(req, route, address, true)));
    if (head.length > 0) upstream.write(head);
    upstream.on('data', onData).on('close', close);
    client.on('data', onData).on('close', close);
    upstream.pipe(client);
    client.pipe(upstream);
  });
  client.once('close', () => {
    if (!open) close();
  });
}

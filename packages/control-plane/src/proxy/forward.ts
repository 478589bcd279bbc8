/**
 * The control plane's hop: a proxied request goes to its capsule's host agent proxy
 * listener, with the agent token and the target in PROXY_HEADERS, over a keep-alive pool
 * per agent (separate from the RPC connections, docs/decisions.md#h9: a busy dev server never slows exec or
 * terminals). Plain node:http/net, as on the agent (see host-agent/src/proxy/forward.ts);
 * an Upgrade is a byte tunnel to the agent, whose answer (101 or an error) passes through.
 */
import { Agent as HttpAgent, type IncomingMessage, type ServerResponse } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WrennError } from '@wrenn/shared';
import { PROXY_HEADERS, forwardHeaders, forwardHttpExchange, isSafeMethod, isStaleReuse, tunnelUpgrade } from '@wrenn/shared/proxy';
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
  forwardHttpExchange({
    req,
    res,
    upstream: { host: url.hostname, port: url.port, agent: pool },
    headers: agentHeaders(req, route, address, false),
    onData,
    // The agent retries its own dials; here only a pooled socket the agent closed
    // meanwhile is worth one more try, for a request whose body is all read and safe to repeat.
    retry: (err, { attempt, reusedSocket }) =>
      isStaleReuse(err, reusedSocket) && req.readableEnded && !res.headersSent && attempt < 2 && isSafeMethod(req.method) ? 'now' : false,
    failure: (err) => agentUnreachable(route, err),
    onDone,
  });
}

/** Rejects at once when the client leaves first: a dial never outlives its client. */
function dialAgent(route: ProxyRoute, client: Duplex): Promise<Socket> {
  const url = new URL(route.proxyUrl);
  return new Promise((resolve, reject) => {
    const upstream = connect({ host: url.hostname, port: Number(url.port || 80) });
    upstream.setNoDelay(true);
    const clientGone = () => {
      upstream.destroy();
      reject(new WrennError('bad_gateway', 'the client left before the tunnel opened'));
    };
    client.once('close', clientGone);
    upstream.once('connect', () => {
      client.off('close', clientGone);
      resolve(upstream);
    });
    upstream.once('error', (err) => {
      client.off('close', clientGone);
      reject(agentUnreachable(route, err));
    });
  });
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
  void tunnelUpgrade({ req, client, head, headers: agentHeaders(req, route, address, true), dial: () => dialAgent(route, client), onData, onDone });
}

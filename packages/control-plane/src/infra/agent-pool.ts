/**
 * Connect clients for the host agents, one per host (HTTP/2 to the agent's RPC port, with
 * the host's bearer token), created on first use and dropped when a host changes or goes.
 * Each host has its own HTTP/2 session, so a slow host never stalls calls to another (docs/decisions.md#h9).
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Client, Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-node';
import { HostAgentService } from '@wrenn/proto/hostagent';
import { WrennError } from '@wrenn/shared';
import { ERROR_CODE_HEADER, createWrennClient, fromConnectError } from '@wrenn/shared/connect';

export type AgentClient = Client<typeof HostAgentService>;

/**
 * An agent's failure as a WrennError (every agent client decodes with this). An agent
 * refusing credentials is our configuration problem (the host token), never the API
 * caller's: it becomes `unavailable`, not a 401 the caller would blame on its own key.
 */
export function fromAgentError(err: unknown): WrennError {
  const e = fromConnectError(err, 'the host agent');
  if (e.code !== 'unauthenticated') return e;
  const sent = e.cause !== undefined && (e.cause as { metadata?: Headers }).metadata?.get(ERROR_CODE_HEADER);
  const message = sent ? `the host agent was refused: ${e.message}` : 'the host agent refused the control plane (host token mismatch)';
  return new WrennError('unavailable', message, undefined, { cause: e.cause ?? e });
}

interface Entry {
  url: string;
  token: string;
  client: AgentClient;
}

export class AgentPool {
  private readonly entries = new Map<string, Entry>();
  private readonly interceptors: Interceptor[] = [];

  constructor(
    private readonly defaultTimeoutMs: number,
    /** A connection not made within this is an error (ETIMEDOUT), not a wait of minutes for a dead machine's SYN. */
    private readonly connectTimeoutMs = 3000,
  ) {}

  /** Adds an interceptor to every agent client (metrics, tracing); clients made before are rebuilt. */
  use(interceptor: Interceptor): void {
    this.interceptors.push(interceptor);
    this.entries.clear();
  }

  /** The client of a host; `url`/`token` come from the hosts table. */
  get(hostId: string, url: string | null, token: string | null): AgentClient {
    if (!url || !token) throw new WrennError('unavailable', `host ${hostId} has not registered an agent address yet`);
    const existing = this.entries.get(hostId);
    if (existing && existing.url === url && existing.token === token) return existing.client;
    const auth: Interceptor = (next) => async (req) => {
      req.header.set('authorization', `Bearer ${token}`);
      return next(req);
    };
    const client = createWrennClient(
      HostAgentService,
      // No gzip (see the agent's server): payloads are mostly incompressible file and output bytes.
      createConnectTransport({
        baseUrl: url,
        httpVersion: '2',
        interceptors: [...this.interceptors, auth],
        defaultTimeoutMs: this.defaultTimeoutMs,
        acceptCompression: [],
        // Plain-HTTP agents (the usual case) connect through a socket with a deadline; TLS ones keep node's default.
        ...(url.startsWith('http:') ? { nodeOptions: { createConnection: (authority: URL) => connectWithin(authority, this.connectTimeoutMs) } } : {}),
      }),
      fromAgentError,
    );
    this.entries.set(hostId, { url, token, client });
    return client;
  }

  evict(hostId: string): void {
    this.entries.delete(hostId);
  }

  clear(): void {
    this.entries.clear();
  }
}

/** A TCP connection to the agent that fails with ETIMEDOUT when not established within `ms`. */
function connectWithin(authority: URL, ms: number): Socket {
  const host = authority.hostname.replace(/^\[|\]$/g, '');
  const port = Number(authority.port) || 80;
  const socket = netConnect({ host, port });
  const timer = setTimeout(() => {
    socket.destroy(Object.assign(new Error(`connect ETIMEDOUT ${host}:${port} (no connection within ${ms} ms)`), { code: 'ETIMEDOUT' }));
  }, ms);
  socket.once('connect', () => clearTimeout(timer));
  socket.once('close', () => clearTimeout(timer));
  return socket;
}

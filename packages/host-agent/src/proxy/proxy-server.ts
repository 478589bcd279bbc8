/**
 * The agent's proxy listener: plain HTTP/1.1 (the RPC server speaks only h2c) on
 * WRENN_AGENT_PROXY_PORT. The control plane sends each proxied request here with the
 * agent token and the target in headers (PROXY_HEADERS); the agent checks the capsule is
 * running on this host, registers the exchange with the capsule (drain, destroy) and
 * forwards it to capsule-address:port, HTTP or Upgrade. Traffic counts as activity for
 * the agent's auto-pause.
 *
 * Refusals answer `{"error":{"code","message"}}`: 401 for a wrong token, 400 for a missing
 * target, 502 (capsule_unreachable) for a capsule that is unknown, paused or otherwise not
 * running — the e2b SDK's isRunning() reads exactly that 502 — and 502 (bad_gateway) when
 * nothing listens on the port.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { listener } from '../infra/listener.js';
import type { Duplex } from 'node:stream';
import { timingSafeEqual } from 'node:crypto';
import { WrennError, isWrennError, type Logger } from '@wrenn/shared';
import { PROXY_HEADERS, sendJsonError, writeSocketError } from '@wrenn/shared/proxy';
import type { CapsuleConnections, Exchange } from './capsule-connections.js';
import { forwardRequest, forwardUpgrade, throttle, type CapsuleTarget } from './forward.js';

/** Bytes flowing stamp the capsule's activity at most this often. */
const ACTIVITY_EVERY_MS = 1000;

export interface ProxyServerDeps {
  token: string;
  logger: Logger;
  connections: CapsuleConnections;
  /** The address of a running capsule; throws capsule_not_found / capsule_busy otherwise. Counts as activity. */
  target(capsuleId: string): { address: string };
  /** Activity on a capsule (bytes still flowing). */
  touch(capsuleId: string): void;
}

export interface ProxyServer {
  readonly server: Server;
  listen(port: number, host: string): Promise<number>;
  close(): Promise<void>;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Why a capsule cannot take proxied traffic, as the one status the proxy answers it with. */
export function proxyRefusal(err: unknown, capsuleId: string): WrennError {
  if (!isWrennError(err)) return new WrennError('internal', `proxy to capsule ${capsuleId} failed: ${(err as Error)?.message ?? String(err)}`);
  if (err.code === 'capsule_not_found') return new WrennError('capsule_unreachable', `capsule ${capsuleId} does not exist on this host`, { capsuleId });
  if (err.code === 'capsule_busy') {
    const status = err.details?.status;
    return new WrennError('capsule_unreachable', `capsule ${capsuleId} is ${String(status ?? 'not running')}: it takes no proxied traffic until it runs again`, { capsuleId, status });
  }
  return err;
}

export function createProxyServer(deps: ProxyServerDeps): ProxyServer {
  const expected = Buffer.from(deps.token);
  const log = deps.logger.child({ component: 'proxy' });

  /** Auth, target, capsule state and admission, in that order: a bad token learns nothing else. */
  const admit = (req: IncomingMessage): { target: CapsuleTarget; exchange: Exchange } => {
    const given = Buffer.from(header(req, PROXY_HEADERS.agentToken) ?? '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new WrennError('unauthenticated', `missing or wrong agent token (${PROXY_HEADERS.agentToken})`);
    }
    const capsuleId = header(req, PROXY_HEADERS.capsuleId) ?? '';
    const port = Number(header(req, PROXY_HEADERS.capsulePort));
    if (!capsuleId || !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new WrennError('invalid_argument', `a proxied request needs ${PROXY_HEADERS.capsuleId} and ${PROXY_HEADERS.capsulePort} (1-65535)`);
    }
    try {
      const { address } = deps.target(capsuleId);
      return { target: { capsuleId, address, port }, exchange: deps.connections.admit(capsuleId) };
    } catch (err) {
      throw proxyRefusal(err, capsuleId);
    }
  };

  const refused = (req: IncomingMessage, err: unknown): WrennError => {
    const e = isWrennError(err) ? err : new WrennError('internal', (err as Error)?.message ?? String(err));
    const capsuleId = header(req, PROXY_HEADERS.capsuleId);
    const level = e.httpStatus >= 500 && e.code !== 'capsule_unreachable' ? 'warn' : 'debug';
    log[level]({ capsuleId, code: e.code, msg: e.message, method: req.method }, 'proxied request refused');
    return e;
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const started = Date.now();
    let admitted: ReturnType<typeof admit>;
    try {
      admitted = admit(req);
    } catch (err) {
      sendJsonError(res, refused(req, err));
      return;
    }
    const { target, exchange } = admitted;
    exchange.own(req.socket);
    const activity = throttle(() => deps.touch(target.capsuleId), ACTIVITY_EVERY_MS);
    forwardRequest(req, res, target, exchange, deps.connections.pool(target.capsuleId), activity, (status) => {
      deps.touch(target.capsuleId);
      log.debug({ capsuleId: target.capsuleId, port: target.port, method: req.method, status, durationMs: Date.now() - started }, 'proxied request');
    });
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    const started = Date.now();
    let admitted: ReturnType<typeof admit>;
    try {
      admitted = admit(req);
    } catch (err) {
      writeSocketError(socket, refused(req, err));
      return;
    }
    const { target, exchange } = admitted;
    const activity = throttle(() => deps.touch(target.capsuleId), ACTIVITY_EVERY_MS);
    void forwardUpgrade(req, socket, head, target, exchange, activity, (outcome) => {
      deps.touch(target.capsuleId);
      log.debug({ capsuleId: target.capsuleId, port: target.port, outcome, durationMs: Date.now() - started }, 'proxied tunnel closed');
    });
  };

  const server = createServer(onRequest);
  server.on('upgrade', onUpgrade);
  // Streams (process output, long polls, downloads) may last as long as they need; a
  // client that never finishes its headers may not (docs/decisions.md#c4).
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  server.keepAliveTimeout = 65_000;
  const { listen, close } = listener(server);
  server.on('clientError', (_err, socket) => socket.destroy());
  return {
    server,
    listen,
    close: () => close(() => deps.connections.closeAll()),
  };
}

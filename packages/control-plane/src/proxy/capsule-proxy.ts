/**
 * The control plane's port proxy: requests for a capsule port (proxy-address.ts) are taken
 * off the server before Fastify routes them, and sent through the capsule's host agent
 * (forward.ts). It sits on the raw server, not in an onRequest hook, because proxied
 * traffic is not the API: any method, path, body size or Upgrade must pass untouched, and
 * Fastify would parse, limit and route it first.
 *
 * Upgrades: the server's only `upgrade` listener is this proxy; Upgrade requests that are
 * not proxied go on to @fastify/websocket through `otherUpgrades` (its `options.server`),
 * so its routing and the docs/decisions.md#c1 guard (ws/upgrade-guard.ts) still decide every non-proxied
 * Upgrade: a proxied Upgrade is a tunnel to the capsule, a spoofed one on an API route is
 * refused as before.
 *
 * Proxied traffic is capsule activity (the auto-pause timer): an HTTP exchange holds its
 * capsule while in flight (a streamed command through envd is never paused under it), a
 * tunnel counts the bytes it carries.
 *
 * @example
 * const proxy = installCapsuleProxy(app.server, ctx);
 * await app.register(websocket, { options: { server: proxy.otherUpgrades } });
 */
import { EventEmitter } from 'node:events';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { Counter, type Registry } from 'prom-client';
import { sendJsonError, writeSocketError } from '@wrenn/shared/proxy';
import type { ControlPlaneContext } from '../context.js';
import { asWrennError } from '@wrenn/shared/connect';
import { proxyAddress, type ProxyAddress } from './proxy-address.js';
import { AgentProxyPools, forwardRequest, forwardUpgrade } from './forward.js';
import { ProxyTargets, unreachable } from './proxy-target.js';

export interface CapsuleProxy {
  /** Upgrade requests that are not for a capsule port (give it to @fastify/websocket as `options.server`). */
  readonly otherUpgrades: EventEmitter;
  /** Counts proxied requests into this Prometheus registry (`wrenn_proxy_requests_total`). */
  countInto(registry: Registry): void;
  /** Cuts proxied exchanges still open (a server close would wait for them) and the pools to agents. */
  close(): void;
}

/** Activity of bytes flowing through a tunnel is noted at most this often. */
const TOUCH_EVERY_MS = 1000;

function throttled(fn: () => void): () => void {
  let last = 0;
  return () => {
    const now = Date.now();
    if (now - last >= TOUCH_EVERY_MS) {
      last = now;
      fn();
    }
  };
}

export function installCapsuleProxy(server: Server, ctx: ControlPlaneContext): CapsuleProxy {
  const api = server.listeners('request') as Array<(req: IncomingMessage, res: ServerResponse) => void>;
  if (api.length !== 1) throw new Error(`installCapsuleProxy: expected the server's one request listener (Fastify's), found ${api.length}`);
  const targets = new ProxyTargets(ctx);
  const pools = new AgentProxyPools();
  const activity = ctx.activity;
  const otherUpgrades = new EventEmitter();
  const log = ctx.logger.child({ component: 'proxy' });
  let requests: Counter<'kind' | 'outcome'> | undefined;
  /** Client sockets of exchanges in flight. */
  const open = new Set<Duplex>();
  const track = (socket: Duplex) => {
    open.add(socket);
    return () => open.delete(socket);
  };
  const count = (kind: 'http' | 'websocket', outcome: string) => requests?.inc({ kind, outcome });

  /** The request's target, or undefined for the API; a malformed target is answered here (400). */
  const addressOf = (req: IncomingMessage, refuse: (e: ReturnType<typeof asWrennError>) => void): ProxyAddress | undefined | null => {
    try {
      return proxyAddress(req, ctx.config.proxyDomain);
    } catch (err) {
      refuse(asWrennError(err));
      return null;
    }
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse) => {
    const address = addressOf(req, (e) => {
      count('http', String(e.httpStatus));
      sendJsonError(res, e);
    });
    if (address === undefined) return api[0]!.call(server, req, res);
    if (address === null) return;
    const started = Date.now();
    const clog = log.child({ capsuleId: address.capsuleId });
    // Held once the capsule is known to run (the lookup itself counted as activity), until
    // the response ends: no auto-pause under a streamed response.
    let release: (() => void) | undefined;
    let finished = false;
    const untrack = track(req.socket);
    const done = (status: number | 'aborted', code?: string) => {
      if (finished) return;
      finished = true;
      untrack();
      release?.();
      count('http', String(status));
      const level = code && code !== 'capsule_unreachable' ? 'info' : 'debug';
      clog[level]({ port: address.port, method: req.method, status, ...(code ? { code } : {}), durationMs: Date.now() - started }, 'proxied request');
    };
    res.once('close', () => {
      if (!res.writableFinished) done('aborted');
    });
    targets.resolve(address.capsuleId).then(
      (route) => {
        if (res.destroyed) return done('aborted');
        release = activity.hold(address.capsuleId);
        const touch = throttled(() => activity.touch(address.capsuleId));
        forwardRequest(req, res, route, address, pools.get(route.proxyUrl), touch, (status) => done(status));
      },
      (err: unknown) => {
        const e = unreachable(err, address.capsuleId);
        sendJsonError(res, e);
        done(e.httpStatus, e.code);
      },
    );
  };

  const onUpgrade = (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const address = addressOf(req, (e) => {
      count('websocket', String(e.httpStatus));
      writeSocketError(socket, e);
    });
    if (address === null) return;
    if (address === undefined) {
      if (otherUpgrades.listenerCount('upgrade') === 0) socket.destroy();
      else otherUpgrades.emit('upgrade', req, socket, head);
      return;
    }
    const started = Date.now();
    const clog = log.child({ capsuleId: address.capsuleId });
    socket.once('close', track(socket));
    targets.resolve(address.capsuleId).then(
      (route) => {
        if (socket.destroyed) return;
        const touch = throttled(() => activity.touch(address.capsuleId));
        forwardUpgrade(req, socket, head, route, address, touch, (outcome) => {
          activity.touch(address.capsuleId);
          count('websocket', outcome);
          clog.debug({ port: address.port, outcome, durationMs: Date.now() - started }, 'proxied tunnel closed');
        });
      },
      (err: unknown) => {
        const e = unreachable(err, address.capsuleId);
        count('websocket', String(e.httpStatus));
        clog.debug({ port: address.port, code: e.code, msg: e.message }, 'proxied upgrade refused');
        writeSocketError(socket, e);
      },
    );
  };

  server.removeAllListeners('request');
  server.on('request', onRequest);
  server.on('upgrade', onUpgrade);

  return {
    otherUpgrades,
    countInto(registry) {
      requests = new Counter({
        name: 'wrenn_proxy_requests_total',
        help: 'Requests proxied to capsule ports, by kind (http, websocket) and outcome (HTTP status sent, aborted, or for tunnels closed/failed)',
        labelNames: ['kind', 'outcome'] as const,
        registers: [registry],
      });
    },
    close: () => {
      for (const s of open) s.destroy();
      pools.close();
    },
  };
}

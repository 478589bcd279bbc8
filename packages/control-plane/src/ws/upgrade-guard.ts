/**
 * docs/decisions.md#c1: only WebSocket routes accept upgrade requests. @fastify/websocket dispatches every
 * upgrade through the normal router and, for a route that is not a WebSocket route,
 * completes the handshake before closing the socket. This guard refuses the upgrade
 * instead (a plain HTTP error, no handshake), after the route's own authentication ran,
 * so a spoofed `Upgrade` header on a normal route gets exactly what the route would
 * give without it when unauthenticated (401), and never anything more.
 *
 * Install once on the root instance, right after the websocket plugin.
 */
import type { FastifyInstance } from 'fastify';
import { WrennError } from '@wrenn/shared';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Set on WebSocket routes by the upgrade guard (routes declared with `websocket: true`). */
    acceptsUpgrade?: boolean;
  }
}

export function installUpgradeGuard(app: FastifyInstance): void {
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const isWs = Boolean((route as { websocket?: boolean }).websocket || route.wsHandler);
    if (isWs && methods.includes('GET')) route.config = { ...route.config, acceptsUpgrade: true };
  });
  // preValidation: after onRequest (where authScope authenticates), before any handler.
  app.addHook('preValidation', async (request) => {
    if (request.ws && !request.is404 && !request.routeOptions.config.acceptsUpgrade) {
      throw new WrennError(
        'invalid_argument',
        `${request.method} ${request.url.split('?')[0]} is not a WebSocket route: upgrade refused (WebSocket routes: /v1/capsules/{id}/pty, /v1/capsules/{id}/exec/stream, /v1/capsules/{id}/processes/{selector}/stream)`,
      );
    }
  });
}

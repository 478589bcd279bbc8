/**
 * Audit of every mutating call (POST/PUT/PATCH/DELETE) made by a user or an API key: who,
 * for which team, which route, on which target, with what result. Recorded after the
 * response is sent and off the request path, so auditing never fails or delays a call.
 * Calls without a principal (refused before auth, public routes) are not recorded here;
 * login and signup record themselves (src/domain/accounts/users.ts). Host traffic
 * (registration, heartbeats) is machine telemetry, not a user action, and is skipped.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';
import { recordAuditLater } from '../../domain/audit.js';
import { httpErrorOf } from '../errors.js';

const MUTATING = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** Path segment naming a collection → the target type its ids are. */
const TARGET_TYPES: Record<string, string> = {
  capsules: 'capsule',
  snapshots: 'snapshot',
  templates: 'template',
  hosts: 'host',
  builds: 'build',
  teams: 'team',
  members: 'user',
  users: 'user',
  'api-keys': 'api_key',
  processes: 'process',
  sandboxes: 'capsule',
};

function typeOf(segment: string | undefined): string | null {
  if (!segment) return null;
  return TARGET_TYPES[segment] ?? segment.replace(/-/g, '_').replace(/s$/, '');
}

/** The route without its version prefix: `/v1/capsules/:id` and `/api/v1/capsules/:id` are one action. */
export function actionRoute(pattern: string): string {
  return pattern.replace(/^\/(?:api\/)?v1(?=\/)/, '');
}

/**
 * The target of a call: the last path parameter and the collection before it
 * (`/teams/:id/members/:user_id` → user), else, for a create, the `id` (or `name`)
 * of what the response returned (`POST /capsules` → capsule cl-...).
 */
export function auditTarget(route: string, params: Record<string, unknown>, created?: Record<string, unknown>): { type: string | null; id: string | null } {
  const segments = route.split('/').filter(Boolean);
  for (let i = segments.length - 1; i >= 0; i--) {
    const seg = segments[i]!;
    if (!seg.startsWith(':')) continue;
    const value = params[seg.slice(1)];
    if (typeof value === 'string' && value) return { type: typeOf(segments[i - 1]), id: value };
  }
  const createdId = created?.id ?? created?.name ?? created?.sandboxID;
  if (typeof createdId === 'string') return { type: typeOf(segments[segments.length - 1]), id: createdId };
  return { type: null, id: null };
}

export function installAudit(app: FastifyInstance, ctx: ControlPlaneContext): void {
  const errorCodes = new WeakMap<FastifyRequest, string>();
  const createdBodies = new WeakMap<FastifyRequest, Record<string, unknown>>();

  app.addHook('onError', async (request, _reply, error) => {
    errorCodes.set(request, httpErrorOf(error).code);
  });

  // Creates name their new target only in the response body: keep its id (small JSON
  // bodies only). A route with a path parameter has its target there: its body (an exec's
  // output, say) is not parsed.
  app.addHook('onSend', async (request, reply, payload) => {
    if (
      MUTATING.has(request.method) &&
      request.auth &&
      reply.statusCode < 300 &&
      typeof payload === 'string' &&
      payload.length < 65_536 &&
      payload.startsWith('{') &&
      !request.routeOptions.url?.includes(':')
    ) {
      try {
        createdBodies.set(request, JSON.parse(payload) as Record<string, unknown>);
      } catch {
        // not JSON: no target from the body
      }
    }
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    try {
      const principal = request.auth;
      const pattern = request.routeOptions.url;
      if (!MUTATING.has(request.method) || !principal || principal.kind === 'host' || !pattern) return;
      const route = actionRoute(pattern);
      const ok = reply.statusCode < 400;
      const actorUserId = principal.kind === 'user' ? principal.userId : null;
      const target = route === '/me' || route.startsWith('/me/') ? { type: 'user', id: actorUserId } : auditTarget(route, (request.params ?? {}) as Record<string, unknown>, createdBodies.get(request));
      const errorCode = errorCodes.get(request);
      recordAuditLater(ctx, {
        // A call on a team (rename, members, create) belongs to that team's log once it succeeded.
        teamId: target.type === 'team' && ok && target.id ? target.id : principal.teamId,
        actorUserId,
        actorKeyId: principal.kind === 'apiKey' ? principal.keyId : null,
        action: `${request.method} ${route}`,
        targetType: target.type,
        targetId: target.id,
        result: ok ? 'ok' : 'error',
        statusCode: reply.statusCode,
        detail: errorCode && !ok ? { error_code: errorCode } : {},
        requestId: request.id,
      });
    } catch (err) {
      request.log.warn({ err }, 'could not prepare the audit log entry');
    }
  });
}

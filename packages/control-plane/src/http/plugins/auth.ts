/**
 * Authentication of HTTP routes. A route is authenticated because of the scope it is
 * registered in (`authScope(...)`), never because it remembered to check; who the caller
 * is comes from domain/accounts/principal.ts.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { authorize, credentialsFrom, resolvePrincipal, type AuthScopeOptions, type Principal } from '../../domain/accounts/principal.js';

export type { AuthScopeOptions, Principal, PrincipalKind } from '../../domain/accounts/principal.js';

declare module 'fastify' {
  interface FastifyRequest {
    auth?: Principal;
  }
}

/**
 * Makes every route registered inside `scope` require a principal of the given kinds.
 * @example app.register(async (s) => { authScope(s, ctx, { allow: ['user', 'apiKey'] }); s.get(...) })
 */
export function authScope(scope: FastifyInstance, ctx: ControlPlaneContext, opts: AuthScopeOptions): void {
  scope.addHook('onRequest', async (request) => {
    request.auth = authorize(await resolvePrincipal(ctx, credentialsFrom(request.headers)), opts);
  });
}

/** The team a team-scoped principal acts for. */
export function teamOf(request: FastifyRequest): string {
  const p = request.auth;
  if (!p || p.kind === 'host') throw new WrennError('permission_denied', 'this route acts on a team: use a user token or an API key');
  return p.teamId;
}

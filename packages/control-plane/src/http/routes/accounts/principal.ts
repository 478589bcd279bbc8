/** The user behind a request of a user-only scope (the scope guarantees the kind). */
import type { FastifyRequest } from 'fastify';
import { WrennError } from '@wrenn/shared';

export function userOf(request: FastifyRequest): { userId: string; teamId: string; isAdmin: boolean } {
  const p = request.auth;
  if (p?.kind !== 'user') throw new WrennError('permission_denied', 'this route needs a user token (log in): API keys cannot manage accounts, keys or teams');
  return { userId: p.userId, teamId: p.teamId, isAdmin: p.isAdmin };
}

/** OpenAPI security requirements of the routes (see the schemes in app.ts). */
type Security = Array<Record<string, string[]>>;
export const USER_ONLY: Security = [{ bearer: [] }];
export const USER_OR_KEY: Security = [{ apiKey: [] }, { bearer: [] }];
export const PUBLIC: Security = [];

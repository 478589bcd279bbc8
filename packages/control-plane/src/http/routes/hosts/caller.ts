/** Who is calling a host route: host management needs a logged-in user (not an API key). */
import type { FastifyRequest } from 'fastify';
import { WrennError } from '@wrenn/shared';
import type { HostCaller } from '../../../domain/hosts/byoc.js';

export function callerOf(request: FastifyRequest): HostCaller {
  const p = request.auth;
  if (p?.kind !== 'user') throw new WrennError('permission_denied', 'host management needs a user token (log in)');
  return { userId: p.userId, teamId: p.teamId, role: p.role, isAdmin: p.isAdmin };
}

/** Who creates a sandbox: the team, and the user or API key acting for it (kept on the capsule). */
import type { FastifyRequest } from 'fastify';
import type { Actor } from '../../../domain/capsules/lifecycle.js';
import { teamOf } from '../../plugins/auth.js';

export function actorOf(request: FastifyRequest): Actor {
  const p = request.auth;
  const teamId = teamOf(request);
  if (p?.kind === 'apiKey') return { teamId, userId: p.userId, keyId: p.keyId };
  if (p?.kind === 'user') return { teamId, userId: p.userId };
  return { teamId };
}

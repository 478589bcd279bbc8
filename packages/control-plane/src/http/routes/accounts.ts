// STUB: POST /v1/auth/*, /v1/me, /v1/teams, /v1/api-keys, /v1/audit-logs — replaced by its owner.
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';

export async function accountsRoutes(_app: FastifyInstance, _ctx: ControlPlaneContext): Promise<void> {}

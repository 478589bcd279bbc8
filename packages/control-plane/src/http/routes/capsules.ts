// STUB: /v1/capsules (REST) — replaced by its owner.
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';

export async function capsulesRoutes(_app: FastifyInstance, _ctx: ControlPlaneContext): Promise<void> {}

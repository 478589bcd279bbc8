// STUB: /v1/capsules/:id/pty, exec/stream, processes/:selector/stream — replaced by its owner.
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';

export async function websocketsRoutes(_app: FastifyInstance, _ctx: ControlPlaneContext): Promise<void> {}

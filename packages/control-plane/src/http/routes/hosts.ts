// STUB: /v1/hosts (create, register, refresh, heartbeat, list, get, delete) — replaced by its owner.
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';

export async function hostsRoutes(_app: FastifyInstance, _ctx: ControlPlaneContext): Promise<void> {}

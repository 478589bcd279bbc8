/**
 * /v1/hosts: administrators create hosts (one-time registration tokens) and manage them;
 * host agents register, refresh their credentials and heartbeat.
 */
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';
import { hostAdminRoutes } from './hosts/admin.js';
import { hostAgentRoutes } from './hosts/agent.js';

export async function hostsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await hostAdminRoutes(app, ctx);
  await hostAgentRoutes(app, ctx);
}

/**
 * The capsules REST API (docs/decisions.md#a1): lifecycle, exec, files, processes,
 * metrics, stats and usage. Every route takes a user JWT or an API key and acts on the
 * caller's team only: another team's capsule id is a 404, like an unknown one. WebSocket
 * routes (pty, exec/stream, process streams) live in websockets.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { ControlPlaneContext } from '../../context.js';
import { authScope } from '../plugins/auth.js';
import { egressRoutes } from './capsules/egress.js';
import { execRoutes } from './capsules/exec.js';
import { fileRoutes } from './capsules/files.js';
import { lifecycleRoutes } from './capsules/lifecycle.js';
import { metricsRoutes } from './capsules/metrics.js';
import { processRoutes } from './capsules/processes.js';

export async function capsulesRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user', 'apiKey'] });
    await lifecycleRoutes(s, ctx);
    await execRoutes(s, ctx);
    await fileRoutes(s, ctx);
    await processRoutes(s, ctx);
    await metricsRoutes(s, ctx);
    await egressRoutes(s, ctx);
  });
}

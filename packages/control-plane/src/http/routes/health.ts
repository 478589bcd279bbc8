/** GET /health: liveness of the control plane and its database. */
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import type { ControlPlaneContext } from '../../context.js';

export const CONTROL_PLANE_VERSION = '0.1.0';

export async function healthRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  app.get('/health', { schema: { hide: true } }, async () => {
    await sql`select 1`.execute(ctx.db);
    return { status: 'ok', version: CONTROL_PLANE_VERSION, database: ctx.dbKind };
  });
}

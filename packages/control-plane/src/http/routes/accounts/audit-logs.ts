/** GET /audit-logs: the current team's audit log, newest first, with a `before` cursor (user token or API key). */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { AUDIT_ID_PATTERN, listAudit } from '../../../domain/audit.js';
import { authScope, teamOf } from '../../plugins/auth.js';
import { USER_OR_KEY } from './principal.js';
import { AuditLogSchema, Strict } from './schemas.js';

export async function auditLogsRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user', 'apiKey'] });
    s.withTypeProvider<TypeBoxTypeProvider>().get(
      '/audit-logs',
      {
        schema: {
          tags: ['audit'],
          summary: "The team's audit log, newest first",
          description: 'Every mutating call (who, what, target, result) and login attempts. Page with `before` = the previous page\'s `next_before`.',
          security: USER_OR_KEY,
          querystring: Type.Object(
            {
              limit: Type.Integer({ minimum: 1, maximum: 500, default: 50 }),
              before: Type.Optional(Type.String({ pattern: AUDIT_ID_PATTERN, description: 'Only entries older than this log id' })),
            },
            Strict,
          ),
          response: { 200: Type.Object({ audit_logs: Type.Array(AuditLogSchema), next_before: Type.Union([Type.String(), Type.Null()]) }) },
        },
      },
      async (request) => listAudit(ctx, teamOf(request), { limit: request.query.limit, before: request.query.before }),
    );
  });
}

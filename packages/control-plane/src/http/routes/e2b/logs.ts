/**
 * E2B sandbox logs: `GET /v2/sandboxes/{id}/logs` (structured entries, cursor, direction,
 * level, search) and the deprecated `GET /sandboxes/{id}/logs` (`start`, `limit`; lines and
 * entries). What they hold is domain/e2b/logs.ts.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { sandboxLogs } from '../../../domain/e2b/logs.js';
import { teamOf } from '../../plugins/auth.js';
import { SandboxParams, Strict, TAGS } from './schemas.js';

const Limit = Type.Integer({ minimum: 0, maximum: 1000 });
const Ms = Type.Integer({ minimum: 0, maximum: 8.64e15 });
const V2Query = Type.Object(
  {
    cursor: Type.Optional(Ms),
    direction: Type.Optional(Type.Union([Type.Literal('forward'), Type.Literal('backward')])),
    level: Type.Optional(Type.Union([Type.Literal('debug'), Type.Literal('info'), Type.Literal('warn'), Type.Literal('error')])),
    limit: Type.Optional(Limit),
    search: Type.Optional(Type.String({ maxLength: 1024, pattern: '^[^\\u0000]*$' })),
  },
  Strict,
);
const V1Query = Type.Object({ start: Type.Optional(Ms), limit: Type.Optional(Limit) }, Strict);
const DEFAULT_LIMIT = 1000;

export async function logRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get('/v2/sandboxes/:sandboxID/logs', { schema: { tags: TAGS, summary: "A sandbox's lifecycle logs (E2B v2)", params: SandboxParams, querystring: V2Query } }, async (request) => {
    const q = request.query;
    const logs = await sandboxLogs(ctx, teamOf(request), request.params.sandboxID, {
      ...(q.cursor !== undefined ? { cursorMs: q.cursor } : {}),
      direction: q.direction ?? 'forward',
      ...(q.level ? { minLevel: q.level } : {}),
      limit: q.limit ?? DEFAULT_LIMIT,
      ...(q.search !== undefined ? { search: q.search } : {}),
    });
    return { logs };
  });
  r.get('/sandboxes/:sandboxID/logs', { schema: { tags: TAGS, summary: "A sandbox's lifecycle logs (E2B v1, deprecated)", params: SandboxParams, querystring: V1Query } }, async (request) => {
    const q = request.query;
    const entries = await sandboxLogs(ctx, teamOf(request), request.params.sandboxID, {
      ...(q.start !== undefined ? { cursorMs: q.start } : {}),
      direction: 'forward',
      limit: q.limit ?? DEFAULT_LIMIT,
    });
    return { logs: entries.map((e) => ({ timestamp: e.timestamp, line: `${e.level}: ${e.message}` })), logEntries: entries };
  });
}

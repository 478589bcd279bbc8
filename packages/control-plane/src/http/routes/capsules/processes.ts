/** GET /capsules/{id}/processes and DELETE /capsules/{id}/processes/{selector} (docs/decisions.md#c5). */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { killProcess, listProcesses } from '../../../domain/capsules/processes.js';
import { teamOf } from '../../plugins/auth.js';
import { CommonErrors, IdParams, NoContent, Strict, TAGS } from './schemas.js';

const ProcessSchema = Type.Object({
  pid: Type.Integer(),
  tag: Type.Union([Type.String(), Type.Null()]),
  cmd: Type.String(),
  args: Type.Array(Type.String()),
});

export async function processRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.get(
    '/capsules/:id/processes',
    {
      schema: {
        tags: TAGS,
        summary: 'Processes started in the capsule (background commands, terminals)',
        params: IdParams,
        response: { 200: Type.Object({ processes: Type.Array(ProcessSchema) }), ...CommonErrors },
      },
    },
    async (request) => ({ processes: await listProcesses(ctx, teamOf(request), request.params.id) }),
  );

  r.delete(
    '/capsules/:id/processes/:selector',
    {
      schema: {
        tags: TAGS,
        summary: 'Signal a process, by PID (all digits) or by tag',
        params: Type.Object(
          {
            id: IdParams.properties.id,
            selector: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9._-]+$', description: 'A PID (all digits) or a tag' }),
          },
          Strict,
        ),
        querystring: Type.Object({ signal: Type.Enum(['SIGTERM', 'SIGKILL'], { default: 'SIGTERM' }) }, Strict),
        response: { 204: NoContent, ...CommonErrors },
      },
    },
    async (request, reply) => {
      await killProcess(ctx, teamOf(request), request.params.id, request.params.selector, request.query.signal);
      return reply.code(204).send(null);
    },
  );
}

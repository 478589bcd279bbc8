/**
 * E2B snapshot and fork routes: `POST /sandboxes/{id}/snapshots` (201 SnapshotInfo),
 * `GET /snapshots` (paged like the sandbox list: limit + x-next-token), deleting one
 * through `DELETE /templates/{id}` (what the SDK's deleteSnapshot calls; base templates
 * are not deletable here), and `POST /sandboxes/{id}/fork` (one result per copy).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../../context.js';
import { deleteSandboxSnapshot, forkSandbox, listSandboxSnapshots, snapshotSandbox } from '../../../domain/e2b/snapshots.js';
import { asWrennError } from '@wrenn/shared/connect';
import { teamOf } from '../../plugins/auth.js';
import { actorOf } from './actor.js';
import { SandboxParams, Strict, TAGS } from './schemas.js';
import { sandboxView } from './views.js';

const MAX_FORKS = 20;

export async function snapshotRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/sandboxes/:sandboxID/snapshots',
    {
      schema: {
        tags: TAGS,
        summary: 'Save a running sandbox, memory included, as a snapshot (E2B); the sandbox keeps running',
        params: SandboxParams,
        body: Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })) }, Strict),
      },
    },
    async (request, reply) => reply.code(201).send(await snapshotSandbox(ctx, teamOf(request), request.params.sandboxID, request.body.name)),
  );

  r.get(
    '/snapshots',
    {
      schema: {
        tags: TAGS,
        summary: "The team's snapshots, newest first (E2B)",
        querystring: Type.Object(
          {
            sandboxID: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            name: Type.Optional(Type.String({ minLength: 1, maxLength: 128 })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })),
            nextToken: Type.Optional(Type.String({ maxLength: 32, pattern: '^[0-9]+$' })),
          },
          Strict,
        ),
      },
    },
    async (request, reply) => {
      const q = request.query;
      const offset = q.nextToken ? Number(q.nextToken) : 0;
      const limit = q.limit ?? 100;
      const page = await listSandboxSnapshots(ctx, teamOf(request), { ...(q.sandboxID ? { sandboxId: q.sandboxID } : {}), ...(q.name ? { name: q.name } : {}), limit, offset });
      if (page.more) reply.header('x-next-token', String(offset + limit));
      return page.items;
    },
  );

  r.delete(
    '/templates/:templateID',
    { schema: { tags: TAGS, summary: 'Delete a snapshot (E2B deleteSnapshot)', params: Type.Object({ templateID: Type.String({ minLength: 1, maxLength: 128 }) }, Strict) } },
    async (request, reply) => {
      try {
        await deleteSandboxSnapshot(ctx, teamOf(request), request.params.templateID);
      } catch (err) {
        if (asWrennError(err).code === 'template_not_found') throw new WrennError('not_found', `snapshot ${request.params.templateID} not found (base templates are managed by the host, not deletable here)`);
        throw err;
      }
      return reply.code(204).send();
    },
  );

  r.post(
    '/sandboxes/:sandboxID/fork',
    {
      schema: {
        tags: TAGS,
        summary: 'Running copies of a sandbox, memory included (E2B)',
        params: SandboxParams,
        body: Type.Object(
          { count: Type.Optional(Type.Integer({ minimum: 1, maximum: MAX_FORKS })), timeout: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86400 })) },
          Strict,
        ),
      },
    },
    async (request) => {
      const results = await forkSandbox(ctx, actorOf(request), request.params.sandboxID, request.body.count ?? 1, request.body.timeout);
      return results.map((res) => {
        if ('sandbox' in res) return { sandbox: sandboxView(ctx, res.sandbox) };
        const e = asWrennError(res.error);
        return { error: { code: e.httpStatus, message: e.message } };
      });
    },
  );
}

/**
 * /admin/capsules: administrators' capsules (what Wrenn's dashboard uses to prepare
 * platform templates). They belong to the platform team, created on first use; every
 * capsule route (create, list, get, destroy, pause/resume, exec, processes, files,
 * metrics) is served here for that team, plus POST /admin/capsules/{id}/snapshot.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../context.js';
import { createSnapshot } from '../../domain/snapshots.js';
import { authScope, teamOf } from '../plugins/auth.js';
import { execRoutes } from './capsules/exec.js';
import { fileRoutes } from './capsules/files.js';
import { lifecycleRoutes } from './capsules/lifecycle.js';
import { metricsRoutes } from './capsules/metrics.js';
import { processRoutes } from './capsules/processes.js';
import { IdParams, Strict } from './capsules/schemas.js';
import { SnapshotSchema } from './snapshots.js';

export const PLATFORM_TEAM_ID = 'team-platform';

async function ensurePlatformTeam(ctx: ControlPlaneContext): Promise<void> {
  await ctx.db
    .insertInto('teams')
    .values({ id: PLATFORM_TEAM_ID, name: 'Platform' })
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

export async function adminCapsulesRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(
    async (s) => {
      authScope(s, ctx, { allow: ['user'], admin: true });
      let ready: Promise<void> | undefined;
      // After authentication: the administrator acts for the platform team here.
      s.addHook('onRequest', async (request) => {
        ready ??= ensurePlatformTeam(ctx).catch((err: unknown) => {
          ready = undefined;
          throw err;
        });
        await ready;
        if (request.auth?.kind === 'user') request.auth = { ...request.auth, teamId: PLATFORM_TEAM_ID, role: 'owner' };
      });
      await lifecycleRoutes(s, ctx);
      await execRoutes(s, ctx);
      await fileRoutes(s, ctx);
      await processRoutes(s, ctx);
      await metricsRoutes(s, ctx);
      s.withTypeProvider<TypeBoxTypeProvider>().post(
        '/capsules/:id/snapshot',
        {
          schema: {
            tags: ['admin'],
            summary: "Save a platform capsule as a template (memory and disk; the capsule keeps running)",
            params: IdParams,
            body: Type.Optional(Type.Object({ name: Type.Optional(Type.String({ minLength: 1, maxLength: 63 })) }, Strict)),
            querystring: Type.Object({ overwrite: Type.Optional(Type.Boolean({ default: false })) }, Strict),
            response: { 201: SnapshotSchema },
          },
        },
        async (request, reply) => {
          const snap = await createSnapshot(ctx, teamOf(request), { capsuleId: request.params.id, name: request.body?.name, overwrite: request.query.overwrite ?? false });
          return reply.code(201).send(snap);
        },
      );
    },
    { prefix: '/admin' },
  );
}

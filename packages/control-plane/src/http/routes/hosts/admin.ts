/**
 * Host management (user JWT): administrators create and manage every host; owners and
 * admins of a team with BYOC enabled create and manage that team's BYOC hosts, which its
 * members see. Create (one-time registration token), list, get, delete, and, for
 * administrators, drain/undrain (extensions).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../../context.js';
import { hostView } from '../../../domain/hosts/host-view.js';
import { checkCreate, hostFor, visibleHosts } from '../../../domain/hosts/byoc.js';
import { createHost, deleteHost, setDraining } from '../../../domain/hosts/registry.js';
import { authScope } from '../../plugins/auth.js';
import { CreateHostBody, CreateHostReply, DeleteHostQuery, HostParams, HostSchema } from './schemas.js';
import { hostExtraRoutes } from './extras.js';
import { callerOf } from './caller.js';

const tags = ['hosts'];
const security = [{ bearer: [] }];

function adminOnly(request: FastifyRequest): void {
  if (!callerOf(request).isAdmin) throw new WrennError('permission_denied', 'only administrators drain hosts');
}

export async function hostAdminRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (scope) => {
    authScope(scope, ctx, { allow: ['user'] });
    const s = scope.withTypeProvider<TypeBoxTypeProvider>();

    s.post(
      '/hosts',
      {
        schema: {
          tags,
          security,
          summary: 'Create a host; returns its one-time registration token',
          description:
            'Regular hosts: administrators only. BYOC hosts (`type: "byoc"`): administrators, or owners and admins of a team with BYOC enabled, for that team (`team_id`, default the token\'s team). `name` is an extension (default: the id).',
          body: CreateHostBody,
          response: { 201: CreateHostReply },
        },
      },
      async (request, reply) => {
        const caller = callerOf(request);
        const b = request.body;
        const type = b.type ?? 'regular';
        const teamId = await checkCreate(ctx, caller, { type, teamId: b.team_id });
        const { host, registrationToken } = await createHost(ctx, b.name, caller.userId, {
          type,
          teamId,
          provider: b.provider ?? null,
          availabilityZone: b.availability_zone ?? null,
        });
        return reply.code(201).send({ host: hostView(host), registration_token: registrationToken });
      },
    );

    s.get(
      '/hosts',
      { schema: { tags, security, summary: "Hosts you may see: all for administrators, your team's BYOC hosts otherwise", response: { 200: Type.Array(HostSchema) } } },
      async (request) => (await visibleHosts(ctx, callerOf(request))).map(hostView),
    );

    s.get('/hosts/:id', { schema: { tags, security, summary: 'Get a host', params: HostParams, response: { 200: HostSchema } } }, async (request) =>
      hostView(await hostFor(ctx, callerOf(request), request.params.id)),
    );

    s.delete(
      '/hosts/:id',
      {
        schema: {
          tags,
          security,
          summary: 'Delete a host (409 while it has capsules that are not stopped, unless force=true marks them error)',
          description: 'The 409 names the capsules in `error.details.sandbox_ids`; GET /hosts/{id}/delete-preview lists them beforehand.',
          params: HostParams,
          querystring: DeleteHostQuery,
          response: { 204: Type.Null({ description: 'Deleted' }) },
        },
      },
      async (request, reply) => {
        const host = await hostFor(ctx, callerOf(request), request.params.id, true);
        await deleteHost(ctx, host.id, request.query.force);
        return reply.code(204).send(null);
      },
    );

    s.post(
      '/hosts/:id/drain',
      { schema: { tags, security, summary: 'Extension: drain a host, no new capsules are placed on it (administrators)', params: HostParams, response: { 200: HostSchema } } },
      async (request) => {
        adminOnly(request);
        return hostView(await setDraining(ctx, request.params.id, true));
      },
    );

    s.post(
      '/hosts/:id/undrain',
      { schema: { tags, security, summary: 'Extension: stop draining a host, it takes new capsules again (administrators)', params: HostParams, response: { 200: HostSchema } } },
      async (request) => {
        adminOnly(request);
        return hostView(await setDraining(ctx, request.params.id, false));
      },
    );

    await hostExtraRoutes(s, ctx);
  });
}

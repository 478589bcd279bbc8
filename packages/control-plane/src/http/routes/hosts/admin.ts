/**
 * Administrators' host routes (user JWT with is_admin): create a host and get its one-time
 * registration token, list, get, drain/undrain, delete.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { hostView } from '../../../domain/hosts/host-view.js';
import { createHost, deleteHost, getHost, listHosts, setDraining } from '../../../domain/hosts/registry.js';
import { authScope } from '../../plugins/auth.js';
import { CreateHostBody, CreateHostReply, DeleteHostQuery, HostParams, HostSchema } from './schemas.js';

const tags = ['hosts'];
const security = [{ bearer: [] }];

export async function hostAdminRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (scope) => {
    authScope(scope, ctx, { allow: ['user'], admin: true });
    const s = scope.withTypeProvider<TypeBoxTypeProvider>();

    s.post(
      '/hosts',
      { schema: { tags, security, summary: 'Create a host; returns its one-time registration token', body: CreateHostBody, response: { 201: CreateHostReply } } },
      async (request, reply) => {
        const userId = request.auth?.kind === 'user' ? request.auth.userId : null;
        const { host, registrationToken } = await createHost(ctx, request.body.name, userId);
        return reply.code(201).send({ host: hostView(host), registration_token: registrationToken });
      },
    );

    s.get('/hosts', { schema: { tags, security, summary: 'List hosts', response: { 200: Type.Object({ hosts: Type.Array(HostSchema) }) } } }, async () => ({
      hosts: (await listHosts(ctx)).map(hostView),
    }));

    s.get('/hosts/:id', { schema: { tags, security, summary: 'Get a host', params: HostParams, response: { 200: HostSchema } } }, async (request) =>
      hostView(await getHost(ctx, request.params.id)),
    );

    s.delete(
      '/hosts/:id',
      {
        schema: {
          tags,
          security,
          summary: 'Delete a host (409 while it has capsules that are not stopped, unless force=true marks them error)',
          params: HostParams,
          querystring: DeleteHostQuery,
          response: { 204: Type.Null({ description: 'Deleted' }) },
        },
      },
      async (request, reply) => {
        await deleteHost(ctx, request.params.id, request.query.force);
        return reply.code(204).send(null);
      },
    );

    s.post(
      '/hosts/:id/drain',
      { schema: { tags, security, summary: 'Drain a host: no new capsules are placed on it', params: HostParams, response: { 200: HostSchema } } },
      async (request) => hostView(await setDraining(ctx, request.params.id, true)),
    );

    s.post(
      '/hosts/:id/undrain',
      { schema: { tags, security, summary: 'Stop draining a host: it takes new capsules again', params: HostParams, response: { 200: HostSchema } } },
      async (request) => hostView(await setDraining(ctx, request.params.id, false)),
    );
  });
}

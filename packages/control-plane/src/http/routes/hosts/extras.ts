/**
 * Host operations of Wrenn's contract beyond create/list/get/delete: tags (which capsules
 * can require with `host_tags`), a new registration token for a host that never
 * registered, and the capsules a delete would affect. Registered inside the hosts' user
 * scope (admin.ts), with the same visibility rules.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { hostView } from '../../../domain/hosts/host-view.js';
import { addTag, hostFor, liveCapsuleIds, regenerateRegistrationToken, removeTag, tagsOf } from '../../../domain/hosts/byoc.js';
import { callerOf } from './caller.js';
import { CreateHostReply, HostParams, HostSchema } from './schemas.js';

const tags = ['hosts'];
const security = [{ bearer: [] }];
const Tag = Type.String({ minLength: 1, maxLength: 63, pattern: '^[A-Za-z0-9][A-Za-z0-9._:=-]*$' });
const NoContent = Type.Null({ description: 'No content' });

export async function hostExtraRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const s = app.withTypeProvider<TypeBoxTypeProvider>();

  s.get('/hosts/:id/tags', { schema: { tags, security, summary: "A host's tags", params: HostParams, response: { 200: Type.Array(Type.String()) } } }, async (request) =>
    tagsOf(await hostFor(ctx, callerOf(request), request.params.id)),
  );

  s.post(
    '/hosts/:id/tags',
    {
      schema: {
        tags,
        security,
        summary: 'Add a tag to a host (adding one it has is a no-op)',
        params: HostParams,
        body: Type.Object({ tag: Tag }, { additionalProperties: false }),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await addTag(ctx, await hostFor(ctx, callerOf(request), request.params.id, true), request.body.tag);
      return reply.code(204).send(null);
    },
  );

  s.delete(
    '/hosts/:id/tags/:tag',
    {
      schema: {
        tags,
        security,
        summary: 'Remove a tag from a host (404 when it does not have it)',
        params: Type.Object({ id: Type.String({ minLength: 1, maxLength: 128 }), tag: Type.String({ minLength: 1, maxLength: 63 }) }, { additionalProperties: false }),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await removeTag(ctx, await hostFor(ctx, callerOf(request), request.params.id, true), request.params.tag);
      return reply.code(204).send(null);
    },
  );

  s.post(
    '/hosts/:id/token',
    {
      schema: {
        tags,
        security,
        summary: 'A new one-time registration token for a host that has not registered (earlier ones stop working); 409 once registered',
        params: HostParams,
        response: { 201: CreateHostReply },
      },
    },
    async (request, reply) => {
      const host = await hostFor(ctx, callerOf(request), request.params.id, true);
      const token = await regenerateRegistrationToken(ctx, host);
      return reply.code(201).send({ host: hostView(host), registration_token: token });
    },
  );

  s.get(
    '/hosts/:id/delete-preview',
    {
      schema: {
        tags,
        security,
        summary: 'What deleting the host would affect: its capsules that are not stopped',
        params: HostParams,
        response: { 200: Type.Object({ host: HostSchema, sandbox_ids: Type.Array(Type.String()) }) },
      },
    },
    async (request) => {
      const host = await hostFor(ctx, callerOf(request), request.params.id, true);
      return { host: hostView(host), sandbox_ids: await liveCapsuleIds(ctx, host.id) };
    },
  );
}

/** POST|GET /api-keys, DELETE /api-keys/{id}: the team's API keys (user token only). */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { createApiKey, listApiKeys, revokeApiKey } from '../../../domain/accounts/index.js';
import { authScope } from '../../plugins/auth.js';
import { userOf, USER_ONLY } from './principal.js';
import { ApiKeySchema, CreatedApiKeySchema, IdParams, Name, NoContent, Strict } from './schemas.js';

export async function apiKeysRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user'] });
    const r = s.withTypeProvider<TypeBoxTypeProvider>();

    r.post(
      '/api-keys',
      {
        schema: {
          tags: ['api-keys'],
          summary: 'Create an API key for your current team (the key is shown once)',
          security: USER_ONLY,
          body: Type.Object({ name: Name }, Strict),
          response: { 201: CreatedApiKeySchema },
        },
      },
      async (request, reply) => {
        const { userId, teamId } = userOf(request);
        return reply.code(201).send(await createApiKey(ctx.db, teamId, userId, request.body.name));
      },
    );

    r.get(
      '/api-keys',
      { schema: { tags: ['api-keys'], summary: "Your current team's API keys (never the keys themselves)", security: USER_ONLY, response: { 200: Type.Array(ApiKeySchema) } } },
      async (request) => listApiKeys(ctx, userOf(request).teamId),
    );

    r.delete(
      '/api-keys/:id',
      {
        schema: {
          tags: ['api-keys'],
          summary: 'Revoke an API key (calls with it get 401 from now on)',
          security: USER_ONLY,
          params: IdParams('API key id (key-...)'),
          response: { 204: NoContent },
        },
      },
      async (request, reply) => {
        const { userId, teamId } = userOf(request);
        await revokeApiKey(ctx, teamId, userId, request.params.id);
        return reply.code(204).send(null);
      },
    );
  });
}

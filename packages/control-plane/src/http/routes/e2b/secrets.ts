/**
 * E2B secrets: `POST /secrets` (201), `GET /secrets` (paged: limit + x-next-token),
 * `GET|POST|DELETE /secrets/{id or name}`. Values go in, never out.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { createSecret, deleteSecret, getSecret, listSecrets, updateSecret } from '../../../domain/e2b/secrets.js';
import { teamOf } from '../../plugins/auth.js';
import { Metadata, Strict, TAGS } from './schemas.js';

/** What the SDK allows in a name (it is interpolated into `${e2b.secrets.<name>}`). */
const Name = Type.String({ minLength: 1, maxLength: 256, pattern: '^[^{}\\u0000-\\u001f\\u007f]+$' });
const Value = Type.String({ maxLength: 65536 });
const Params = Type.Object({ secretID: Type.String({ minLength: 1, maxLength: 256 }) }, Strict);

export async function secretRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post('/secrets', { schema: { tags: TAGS, summary: 'Create a secret (E2B)', body: Type.Object({ name: Name, value: Value, metadata: Type.Optional(Metadata) }, Strict) } }, async (request, reply) =>
    reply.code(201).send(await createSecret(ctx, teamOf(request), { name: request.body.name, value: request.body.value, metadata: request.body.metadata ?? {} })),
  );

  r.get(
    '/secrets',
    {
      schema: {
        tags: TAGS,
        summary: "The team's secrets, by name (E2B); values are never returned",
        querystring: Type.Object({ limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 100 })), nextToken: Type.Optional(Type.String({ maxLength: 32, pattern: '^[0-9]+$' })) }, Strict),
      },
    },
    async (request, reply) => {
      const offset = request.query.nextToken ? Number(request.query.nextToken) : 0;
      const limit = request.query.limit ?? 100;
      const page = await listSecrets(ctx, teamOf(request), { limit, offset });
      if (page.more) reply.header('x-next-token', String(offset + limit));
      return page.items;
    },
  );

  r.get('/secrets/:secretID', { schema: { tags: TAGS, summary: 'One secret, without its value (E2B)', params: Params } }, async (request) => getSecret(ctx, teamOf(request), request.params.secretID));

  r.post(
    '/secrets/:secretID',
    { schema: { tags: TAGS, summary: "Replace a secret's value (E2B); its version goes up", params: Params, body: Type.Object({ value: Value, metadata: Type.Optional(Metadata) }, Strict) } },
    async (request) => updateSecret(ctx, teamOf(request), request.params.secretID, { value: request.body.value, ...(request.body.metadata ? { metadata: request.body.metadata } : {}) }),
  );

  r.delete('/secrets/:secretID', { schema: { tags: TAGS, summary: 'Delete a secret (E2B)', params: Params } }, async (request, reply) => {
    await deleteSecret(ctx, teamOf(request), request.params.secretID);
    return reply.code(204).send();
  });
}

/** GET /users/search?email=<prefix>: users to add as members, by email prefix (user token). */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { searchUsers } from '../../../domain/accounts/index.js';
import { authScope } from '../../plugins/auth.js';
import { USER_ONLY } from './principal.js';
import { ErrorSchema, Strict } from './schemas.js';

export async function usersSearchRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user'] });
    s.withTypeProvider<TypeBoxTypeProvider>().get(
      '/users/search',
      {
        schema: {
          tags: ['users'],
          summary: 'Active users whose email starts with a prefix (at most 10)',
          description: "The prefix needs at least 3 characters and an '@' (so the search cannot list everyone). Only ids and emails are returned.",
          security: USER_ONLY,
          querystring: Type.Object({ email: Type.String({ minLength: 1, maxLength: 254, pattern: '^[^\\u0000]+$' }) }, Strict),
          response: { 200: Type.Array(Type.Object({ user_id: Type.String(), email: Type.String() })), 400: ErrorSchema },
        },
      },
      async (request) => searchUsers(ctx, request.query.email),
    );
  });
}

/**
 * GET|POST /admin/users, PATCH /admin/users/{id}: user administration (user token of an
 * administrator). Creating a user gives an inactive account and its one-time activation
 * token (POST /v1/auth/activate), as there is no email delivery.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { createInactiveUser, listUsers, updateUser } from '../../../domain/accounts/index.js';
import { authScope } from '../../plugins/auth.js';
import { USER_ONLY } from './principal.js';
import { DateTime, Email, IdParams, Name, Strict, TeamSchema, UserSchema } from './schemas.js';

const tags = ['admin'];
const security = USER_ONLY;

export async function adminUsersRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user'], admin: true });
    const r = s.withTypeProvider<TypeBoxTypeProvider>();

    r.get(
      '/admin/users',
      {
        schema: {
          tags,
          security,
          summary: 'All users (administrators only)',
          querystring: Type.Object({ limit: Type.Integer({ minimum: 1, maximum: 1000, default: 100 }), offset: Type.Integer({ minimum: 0, default: 0 }) }, Strict),
          response: { 200: Type.Object({ users: Type.Array(UserSchema) }) },
        },
      },
      async (request) => ({ users: await listUsers(ctx, request.query) }),
    );

    r.post(
      '/admin/users',
      {
        schema: {
          tags,
          security,
          summary: 'Create an inactive user with a one-time activation token (valid 7 days)',
          body: Type.Object({ email: Email, name: Type.Optional(Name), is_admin: Type.Optional(Type.Boolean()) }, Strict),
          response: {
            201: Type.Object({
              user: UserSchema,
              team: TeamSchema,
              activation_token: Type.String({ description: 'Hand it to the user: POST /v1/auth/activate {token, password}. Shown once.' }),
              activation_expires_at: DateTime,
            }),
          },
        },
      },
      async (request, reply) => reply.code(201).send(await createInactiveUser(ctx, { email: request.body.email, name: request.body.name, isAdmin: request.body.is_admin })),
    );

    r.patch(
      '/admin/users/:id',
      {
        schema: {
          tags,
          security,
          summary: 'Enable or disable a user, grant or revoke administrator (never the last administrator)',
          params: IdParams('User id (usr-...)'),
          body: Type.Object({ active: Type.Optional(Type.Boolean()), is_admin: Type.Optional(Type.Boolean()) }, { ...Strict, minProperties: 1 }),
          response: { 200: UserSchema },
        },
      },
      async (request) => updateUser(ctx, request.params.id, request.body),
    );
  });
}

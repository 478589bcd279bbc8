/**
 * GET|POST /admin/users, PATCH /admin/users/{id}, POST /admin/users/{id}/reset-password:
 * user administration (user token of an administrator). Creating a user, or resetting
 * their password, gives a one-time activation token (POST /v1/auth/activate), as there is
 * no email delivery.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { WrennError } from '@wrenn/shared';
import { adminListUsers, countUsers, createInactiveUser, resetPassword, updateUser } from '../../../domain/accounts/index.js';
import { authScope } from '../../plugins/auth.js';
import { userOf, USER_ONLY } from './principal.js';
import { DateTime, Email, IdParams, Name, Strict, TeamSchema, UserSchema } from './schemas.js';

const tags = ['admin'];
const PER_PAGE = 100;
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
          summary: 'All users, 100 a page (administrators only)',
          description: '`page` (from 1) as Wrenn; `limit`/`offset` are an extension and win when given.',
          querystring: Type.Object(
            {
              page: Type.Optional(Type.Integer({ minimum: 1, maximum: 1_000_000 })),
              limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })),
              offset: Type.Optional(Type.Integer({ minimum: 0 })),
            },
            Strict,
          ),
          response: {
            200: Type.Object({
              users: Type.Array(
                Type.Intersect([
                  UserSchema,
                  Type.Object({ status: Type.Union([Type.Literal('active'), Type.Literal('disabled')]), teams_joined: Type.Integer(), teams_owned: Type.Integer() }),
                ]),
              ),
              total: Type.Integer(),
              page: Type.Integer(),
              per_page: Type.Integer(),
              total_pages: Type.Integer(),
            }),
          },
        },
      },
      async (request) => {
        const q = request.query;
        const perPage = q.limit ?? PER_PAGE;
        const page = q.page ?? 1;
        const offset = q.offset ?? (page - 1) * perPage;
        const [users, total] = await Promise.all([adminListUsers(ctx, { limit: perPage, offset }), countUsers(ctx)]);
        return { users, total, page, per_page: perPage, total_pages: Math.ceil(total / perPage) };
      },
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
          description: "Disabling ends every session (JWT) of the user for good: re-enabling does not bring them back. The user's API keys belong to their teams and are not affected.",
          params: IdParams('User id (usr-...)'),
          body: Type.Object({ active: Type.Optional(Type.Boolean()), is_admin: Type.Optional(Type.Boolean()) }, { ...Strict, minProperties: 1 }),
          response: { 200: UserSchema },
        },
      },
      async (request) => updateUser(ctx, request.params.id, request.body),
    );

    r.post(
      '/admin/users/:id/reset-password',
      {
        schema: {
          tags,
          security,
          summary: "Reset a user's password: it stops working, every session of the user ends, and a one-time token (7 days) lets them set a new one",
          description:
            'Hand the token to the user: POST /v1/auth/activate {token, password}. Earlier unused tokens stop working. For an account never activated this is a new activation token; a disabled account is refused (409): enable it first. API keys are not affected.',
          params: IdParams('User id (usr-...)'),
          response: {
            200: Type.Object({
              user: UserSchema,
              activation_token: Type.String({ description: 'Shown once: POST /v1/auth/activate {token, password}' }),
              activation_expires_at: DateTime,
            }),
          },
        },
      },
      async (request) => resetPassword(ctx, request.params.id),
    );

    r.put(
      '/admin/users/:id/active',
      {
        schema: {
          tags,
          security,
          summary: 'Enable or disable a user (not yourself, never the last administrator)',
          description: 'Disabling ends every session of the user for good.',
          params: IdParams('User id (usr-...)'),
          body: Type.Object({ active: Type.Boolean() }, Strict),
          response: { 204: Type.Null({ description: 'No content' }) },
        },
      },
      async (request, reply) => {
        if (!request.body.active && request.params.id === userOf(request).userId) throw new WrennError('invalid_argument', 'you cannot disable your own account');
        await updateUser(ctx, request.params.id, { active: request.body.active });
        return reply.code(204).send(null);
      },
    );

    r.put(
      '/admin/users/:id/admin',
      {
        schema: {
          tags,
          security,
          summary: 'Grant or revoke administrator (never the last one)',
          params: IdParams('User id (usr-...)'),
          body: Type.Object({ admin: Type.Boolean() }, Strict),
          response: { 204: Type.Null({ description: 'No content' }) },
        },
      },
      async (request, reply) => {
        await updateUser(ctx, request.params.id, { is_admin: request.body.admin });
        return reply.code(204).send(null);
      },
    );
  });
}

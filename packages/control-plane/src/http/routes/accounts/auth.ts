/**
 * POST /auth/signup, /auth/login, /auth/activate (public) and /auth/switch-team (user
 * token): each answers with a session `{token, user, team}`.
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { activate, login, signup, switchTeam } from '../../../domain/accounts/index.js';
import { authScope } from '../../plugins/auth.js';
import { userOf, PUBLIC, USER_ONLY } from './principal.js';
import { Email, Name, Password, SessionSchema, Strict } from './schemas.js';

export async function authRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/auth/signup',
    {
      schema: {
        tags: ['auth'],
        summary: 'Create an account and its personal team (you are its owner)',
        security: PUBLIC,
        body: Type.Object({ email: Email, password: Password, name: Type.Optional(Name) }, Strict),
        response: { 201: SessionSchema },
      },
    },
    async (request, reply) => {
      const session = await signup(ctx, request.body, { requestId: request.id });
      return reply.code(201).send(session);
    },
  );

  r.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in: a JWT (6 h) for your default team',
        security: PUBLIC,
        body: Type.Object({ email: Email, password: Type.String({ minLength: 1, maxLength: 1024 }) }, Strict),
        response: { 200: SessionSchema },
      },
    },
    async (request) => login(ctx, request.body, { requestId: request.id }),
  );

  r.post(
    '/auth/activate',
    {
      schema: {
        tags: ['auth'],
        summary: 'Activate an account an administrator created, with its one-time token, and set its password',
        security: PUBLIC,
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 256 }), password: Password }, Strict),
        response: { 200: SessionSchema },
      },
    },
    async (request) => activate(ctx, request.body),
  );

  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user'] });
    s.withTypeProvider<TypeBoxTypeProvider>().post(
      '/auth/switch-team',
      {
        schema: {
          tags: ['auth'],
          summary: 'A new JWT acting for another team you belong to',
          security: USER_ONLY,
          body: Type.Object({ team_id: Type.String({ minLength: 1, maxLength: 128 }) }, Strict),
          response: { 200: SessionSchema },
        },
      },
      async (request) => switchTeam(ctx, userOf(request).userId, request.body.team_id),
    );
  });
}

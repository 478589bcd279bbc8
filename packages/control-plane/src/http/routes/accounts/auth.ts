/**
 * POST /auth/signup, /auth/login, /auth/activate (public) and /auth/switch-team (user
 * token): each answers with a session `{token, user, team}`. POST /auth/logout-all (user
 * token) ends every session of the caller. Login and activate are throttled (429).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { activate, login, logoutEverywhere, signup, switchTeam } from '../../../domain/accounts/index.js';
import { authScope } from '../../plugins/auth.js';
import { userOf, PUBLIC, USER_ONLY } from './principal.js';
import { Email, ErrorSchema, Name, NoContent, Password, SessionSchema, Strict, TooManyAttemptsSchema } from './schemas.js';

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
        response: { 201: Type.Intersect([SessionSchema, Type.Object({ message: Type.String() })]) },
      },
    },
    async (request, reply) => {
      const session = await signup(ctx, request.body, { requestId: request.id });
      // Wrenn's SignupResponse is a message; the session beside it is ours (the account is active at once).
      return reply.code(201).send({ message: 'Your account is ready: you are logged in.', ...session });
    },
  );

  r.post(
    '/auth/login',
    {
      schema: {
        tags: ['auth'],
        summary: 'Log in: a JWT (6 h) for your default team',
        description:
          'A wrong password and an unknown email give the same 401. After WRENN_LOGIN_MAX_FAILURES failed logins for an email, or from one address, within WRENN_LOGIN_WINDOW_SEC, logins for it get 429 with Retry-After (even with the right password) until the oldest failure leaves the window; a successful login clears its email\'s count.',
        security: PUBLIC,
        body: Type.Object({ email: Email, password: Type.String({ minLength: 1, maxLength: 1024 }) }, Strict),
        response: { 200: SessionSchema, 401: ErrorSchema, 429: TooManyAttemptsSchema },
      },
    },
    async (request) => login(ctx, request.body, { requestId: request.id, ip: request.ip }),
  );

  r.post(
    '/auth/activate',
    {
      schema: {
        tags: ['auth'],
        summary: 'Activate an account an administrator created (or reset), with its one-time token, and set its password',
        security: PUBLIC,
        description:
          'After WRENN_LOGIN_MAX_FAILURES invalid tokens from one address within WRENN_LOGIN_WINDOW_SEC, 429 with Retry-After. `password` is required for an account an administrator created (it has none yet); an account that has a password activates with the token alone.',
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 256 }), password: Type.Optional(Password) }, Strict),
        response: { 200: SessionSchema, 401: ErrorSchema, 429: TooManyAttemptsSchema },
      },
    },
    async (request) => activate(ctx, request.body, { requestId: request.id, ip: request.ip }),
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

    s.withTypeProvider<TypeBoxTypeProvider>().post(
      '/auth/logout-all',
      {
        schema: {
          tags: ['auth'],
          summary: 'Log out everywhere: every JWT of yours (this one included, all teams) stops working',
          description:
            'Immediately on the server that answers; other replicas may accept a cached token for up to WRENN_AUTH_CACHE_TTL_SEC. API keys are not sessions and keep working: revoke them with DELETE /v1/api-keys/{id}.',
          security: USER_ONLY,
          response: { 204: NoContent },
        },
      },
      async (request, reply) => {
        await logoutEverywhere(ctx, userOf(request).userId);
        return reply.code(204).send(null);
      },
    );
  });
}

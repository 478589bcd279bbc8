/** GET|PATCH|DELETE /me and POST /me/password: the caller's own account (user token). */
import type { FastifyInstance, FastifySchema } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { WrennError } from '@wrenn/shared';
import { changePassword, deleteMe, getMe, reissueSession, updateMe } from '../../../domain/accounts/index.js';
import { authScope } from '../../plugins/auth.js';
import { userOf, USER_ONLY } from './principal.js';
import { Email, ErrorSchema, Name, NoContent, Password, SessionSchema, Strict, TeamSchema, TooManyAttemptsSchema, UserSchema } from './schemas.js';

const DeleteMeBody = Type.Object({ confirmation: Type.String({ maxLength: 254, description: 'Your email address (case-insensitive)' }) }, Strict);

/** The optional `{confirmation}` of DELETE /me: nothing, or exactly that one string field. */
function confirmationOf(body: unknown): string | undefined {
  if (body === undefined || body === null) return undefined;
  const b = body as Record<string, unknown>;
  const ok = typeof body === 'object' && !Array.isArray(body) && Object.keys(b).every((k) => k === 'confirmation') && (b.confirmation === undefined || (typeof b.confirmation === 'string' && b.confirmation.length <= 254));
  if (!ok) throw new WrennError('invalid_argument', 'the body may only be {"confirmation": "<your email>"}');
  return b.confirmation as string | undefined;
}

export async function meRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user'] });
    const r = s.withTypeProvider<TypeBoxTypeProvider>();

    r.get(
      '/me',
      {
        schema: {
          tags: ['account'],
          summary: 'You, and the team your token acts for',
          description: "Wrenn's MeResponse (name, email, has_password, providers); `user` and `team` are extensions.",
          security: USER_ONLY,
          response: {
            200: Type.Object({
              name: Type.String(),
              email: Type.String({ format: 'email' }),
              has_password: Type.Boolean(),
              providers: Type.Array(Type.String(), { description: 'Linked login providers' }),
              user: UserSchema,
              team: TeamSchema,
            }),
          },
        },
      },
      async (request) => {
        const { userId, teamId } = userOf(request);
        return getMe(ctx, userId, teamId);
      },
    );

    r.patch(
      '/me',
      {
        schema: {
          tags: ['account'],
          summary: 'Change your name (or, extension, your email); a new token carries it',
          description: "Answers Wrenn's AuthResponse (token, user_id, team_id, email, name) plus the user's fields (extension).",
          security: USER_ONLY,
          body: Type.Object({ name: Type.Optional(Name), email: Type.Optional(Email) }, { ...Strict, minProperties: 1 }),
          response: { 200: Type.Intersect([UserSchema, Type.Object({ token: Type.String(), user_id: Type.String(), team_id: Type.String() })]) },
        },
      },
      async (request) => {
        const { userId, teamId } = userOf(request);
        const user = await updateMe(ctx, userId, request.body);
        const session = await reissueSession(ctx, userId, teamId);
        return { ...user, token: session.token, user_id: session.user_id, team_id: session.team_id };
      },
    );

    r.delete(
      '/me',
      {
        config: { swaggerTransform: ({ schema, url }: { schema: FastifySchema; url: string }) => ({ url, schema: { ...schema, body: DeleteMeBody } as FastifySchema }) },
        schema: {
          tags: ['account'],
          summary: 'Delete your account (and the teams where you are the only member)',
          description: 'Refused (409) while you are the last owner of a team that has other members. `confirmation` (your email, any case) guards against accidents; the body is optional (extension).',
          security: USER_ONLY,
          // An optional body: declared for the document only (a schema would refuse no body at all), checked below.
          response: { 204: NoContent },
        },
      },
      async (request, reply) => {
        await deleteMe(ctx, userOf(request).userId, confirmationOf(request.body));
        return reply.code(204).send(null);
      },
    );

    r.post(
      '/me/password',
      {
        schema: {
          tags: ['account'],
          summary: 'Change your password (or add one to an OAuth-only account); every other session ends, and you get a new token',
          description:
            'Every JWT of yours issued before (this one included, all teams and devices) stops working: immediately on the server that answers, within WRENN_AUTH_CACHE_TTL_SEC on other replicas. Keep going with the returned token (same team). API keys are not affected. A wrong current password is 403; after WRENN_LOGIN_MAX_FAILURES of them within WRENN_LOGIN_WINDOW_SEC, password changes of this user get 429 with Retry-After (even with the right password), so a stolen session cannot be used to guess the password.',
          security: USER_ONLY,
          body: Type.Object(
            {
              current_password: Type.Optional(Type.String({ minLength: 1, maxLength: 1024, description: 'Required when changing an existing password' })),
              new_password: Password,
              confirm_password: Type.Optional(Type.String({ maxLength: 1024, description: 'Must equal new_password; required when adding a password to an OAuth-only account (no current_password)' })),
            },
            Strict,
          ),
          response: { 200: SessionSchema, 403: ErrorSchema, 429: TooManyAttemptsSchema },
        },
      },
      async (request) => {
        const b = request.body;
        if (b.current_password === undefined && b.confirm_password === undefined) throw new WrennError('invalid_argument', 'give current_password to change your password, or confirm_password to add one to an account that signs in only through a provider');
        if (b.confirm_password !== undefined && b.confirm_password !== b.new_password) throw new WrennError('invalid_argument', 'confirm_password does not match new_password: the password was not changed');
        return changePassword(ctx, userOf(request), { currentPassword: b.current_password, newPassword: b.new_password });
      },
    );
  });
}

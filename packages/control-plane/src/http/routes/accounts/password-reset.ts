/** POST /me/password/reset and /me/password/reset/confirm (public): password reset by email. */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { confirmPasswordReset, requestPasswordReset } from '../../../domain/accounts/index.js';
import { PUBLIC } from './principal.js';
import { Email, ErrorSchema, NoContent, Password, Strict, TooManyAttemptsSchema } from './schemas.js';

export async function passwordResetRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();

  r.post(
    '/me/password/reset',
    {
      schema: {
        tags: ['account'],
        summary: 'Request a password reset email',
        description:
          'Mails a one-time link (15 minutes) to the address when an active account has it; the answer is the same 204 either way. Without SMTP (WRENN_SMTP_HOST) the link is logged for the administrator. The link points to WRENN_APP_URL/reset-password?token=...',
        security: PUBLIC,
        body: Type.Object({ email: Email }, Strict),
        response: { 204: NoContent },
      },
    },
    async (request, reply) => {
      await requestPasswordReset(ctx, request.body.email, { requestId: request.id, ip: request.ip });
      return reply.code(204).send(null);
    },
  );

  r.post(
    '/me/password/reset/confirm',
    {
      schema: {
        tags: ['account'],
        summary: 'Confirm password reset',
        description:
          'Sets the new password with the token from the mail (it works once, for 15 minutes) and ends every session of the account. An unknown, used or expired token is 400; after WRENN_LOGIN_MAX_FAILURES of them from one address within WRENN_LOGIN_WINDOW_SEC, 429 with Retry-After.',
        security: PUBLIC,
        body: Type.Object({ token: Type.String({ minLength: 1, maxLength: 256, description: 'Raw reset token from the email link' }), new_password: Password }, Strict),
        response: { 204: NoContent, 400: ErrorSchema, 429: TooManyAttemptsSchema },
      },
    },
    async (request, reply) => {
      await confirmPasswordReset(ctx, { token: request.body.token, newPassword: request.body.new_password }, { requestId: request.id, ip: request.ip });
      return reply.code(204).send(null);
    },
  );
}

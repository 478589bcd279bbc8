/**
 * OAuth/OIDC login (GET /auth/oauth/{provider} and its /callback, public) and provider
 * linking (GET /me/providers/{provider}/connect, DELETE /me/providers/{provider}, user
 * token). The attempt's browser secret travels in the HttpOnly cookie `wrenn_oauth`; every
 * redirect back goes under WRENN_APP_URL, whatever the request carries.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import Type from 'typebox';
import type { ControlPlaneContext } from '../../../context.js';
import { finishOAuth, OAuthCallbackError, OAUTH_STATE_TTL_MS, startOAuth, unlinkProvider } from '../../../domain/accounts/oauth.js';
import { authScope } from '../../plugins/auth.js';
import { PUBLIC, USER_ONLY, userOf } from './principal.js';
import { ErrorSchema, NoContent, Strict } from './schemas.js';

const COOKIE = 'wrenn_oauth';

const ProviderParams = Type.Object({ provider: Type.String({ pattern: '^[a-z][a-z0-9-]{0,31}$', description: 'A configured login provider: github, or the name of an OIDC issuer in WRENN_OIDC_PROVIDERS' }) }, Strict);
const Redirect = Type.Null({ description: 'Redirect (Location)' });

function setAttemptCookie(ctx: ControlPlaneContext, reply: FastifyReply, value: string, maxAgeSec: number): void {
  const secure = ctx.config.publicUrl.startsWith('https:') ? '; Secure' : '';
  // Lax: the provider's redirect back is a top-level GET, which Lax cookies accompany.
  reply.header('set-cookie', `${COOKIE}=${value}; Path=/; Max-Age=${maxAgeSec}; HttpOnly; SameSite=Lax${secure}`);
}

/** The attempt cookie of the request (a base64url value; anything else is no cookie). */
function attemptCookie(request: FastifyRequest): string | undefined {
  for (const part of (request.headers.cookie ?? '').split(';')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === COOKIE && v && /^[A-Za-z0-9_-]{1,128}$/.test(v)) return v;
  }
  return undefined;
}

function appRedirect(ctx: ControlPlaneContext, path: string, params: Record<string, string>): string {
  const url = new URL(`${ctx.config.appUrl}${path}`);
  for (const [k, v] of Object.entries(params)) url.searchParams.set(k, v);
  return url.toString();
}

/** The login pair; `hide` keeps an alias (the paths without /v1) out of the document. */
export async function oauthLoginRoutes(app: FastifyInstance, ctx: ControlPlaneContext, opts: { hide?: boolean } = {}): Promise<void> {
  const r = app.withTypeProvider<TypeBoxTypeProvider>();
  r.get(
    '/auth/oauth/:provider',
    {
      schema: {
        ...(opts.hide ? { hide: true } : {}),
        tags: ['auth'],
        summary: 'Start OAuth login flow',
        description: `Redirects to the provider's authorization page (authorization code with PKCE; OIDC providers also get a nonce) and sets the short-lived (${OAUTH_STATE_TTL_MS / 60_000} min), single-use attempt cookie the callback checks.`,
        security: PUBLIC,
        params: ProviderParams,
        response: { 302: Redirect, 404: ErrorSchema },
      },
    },
    async (request, reply) => {
      const { authUrl, browserSecret } = await startOAuth(ctx, request.params.provider);
      setAttemptCookie(ctx, reply, browserSecret, OAUTH_STATE_TTL_MS / 1000);
      return reply.redirect(authUrl.toString(), 302);
    },
  );

  r.get(
    '/auth/oauth/:provider/callback',
    {
      schema: {
        ...(opts.hide ? { hide: true } : {}),
        tags: ['auth'],
        summary: 'OAuth callback',
        description:
          'Checks the state (single-use, bound to the browser by its cookie, expiring), exchanges the code and logs in (the account with this provider identity, else the one with its verified email, else a new one when WRENN_SIGNUP allows). Redirects to WRENN_APP_URL/auth/{provider}/callback?token=...&user_id=...&team_id=...&email=..., or ?error= (access_denied, invalid_state, missing_code, exchange_failed, email_taken, internal_error; also email_unverified, account_inactive, signup_disabled). A link started by /me/providers/{provider}/connect ends at WRENN_APP_URL/dashboard/settings?connected={provider} or ?connect_error=.',
        security: PUBLIC,
        params: ProviderParams,
        querystring: Type.Object({ code: Type.Optional(Type.String({ maxLength: 2048 })), state: Type.Optional(Type.String({ maxLength: 512 })) }),
        response: { 302: Redirect, 404: ErrorSchema },
      },
    },
    async (request, reply) => {
      const provider = request.params.provider;
      const base = `/auth/${provider}/callback`;
      const url = new URL(request.url, 'http://callback.invalid');
      setAttemptCookie(ctx, reply, '', 0);
      try {
        const result = await finishOAuth(ctx, provider, url, attemptCookie(request));
        if (result.kind === 'linked') return reply.redirect(appRedirect(ctx, '/dashboard/settings', { connected: provider }), 302);
        const s = result.session;
        return reply.redirect(appRedirect(ctx, base, { token: s.token, user_id: s.user_id, team_id: s.team_id, email: s.email, name: s.name }), 302);
      } catch (err) {
        if (!(err instanceof OAuthCallbackError)) {
          if ((err as { code?: string }).code === 'not_found') throw err;
          request.log.error({ err, provider }, 'OAuth callback failed');
          return reply.redirect(appRedirect(ctx, base, { error: 'internal_error' }), 302);
        }
        request.log.info({ provider, failure: err.failure, reason: err.message }, 'OAuth callback refused');
        if (err.link) return reply.redirect(appRedirect(ctx, '/dashboard/settings', { connect_error: err.failure }), 302);
        return reply.redirect(appRedirect(ctx, base, { error: err.failure }), 302);
      }
    },
  );
}

export async function oauthRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  await oauthLoginRoutes(app, ctx);
  app.withTypeProvider<TypeBoxTypeProvider>().get(
    '/auth/providers',
    {
      schema: {
        tags: ['auth'],
        summary: 'The login providers this server offers',
        description: 'The names to start a login with (GET /v1/auth/oauth/{name}), for a login page to show its buttons; empty when none is configured.',
        security: PUBLIC,
        response: { 200: Type.Array(Type.Object({ name: Type.String() })) },
      },
    },
    async () => [...ctx.oauth.keys()].map((name) => ({ name })),
  );
  await app.register(async (s) => {
    authScope(s, ctx, { allow: ['user'] });
    const r = s.withTypeProvider<TypeBoxTypeProvider>();
    r.get(
      '/me/providers/:provider/connect',
      {
        schema: {
          tags: ['account'],
          summary: 'Initiate OAuth provider link',
          description: "Sets the attempt cookie and returns the provider's authorization URL; its callback links the provider identity to your account (refused if it is linked to another user).",
          security: USER_ONLY,
          params: ProviderParams,
          response: { 200: Type.Object({ auth_url: Type.String({ format: 'uri' }) }), 404: ErrorSchema },
        },
      },
      async (request, reply) => {
        const { authUrl, browserSecret } = await startOAuth(ctx, request.params.provider, userOf(request).userId);
        setAttemptCookie(ctx, reply, browserSecret, OAUTH_STATE_TTL_MS / 1000);
        return { auth_url: authUrl.toString() };
      },
    );
    r.delete(
      '/me/providers/:provider',
      {
        schema: {
          tags: ['account'],
          summary: 'Disconnect an OAuth provider',
          description: 'Refused (400) when it is your only way to sign in (no password, no other provider); 404 when it is not linked.',
          security: USER_ONLY,
          params: ProviderParams,
          response: { 204: NoContent, 400: ErrorSchema, 404: ErrorSchema },
        },
      },
      async (request, reply) => {
        await unlinkProvider(ctx, userOf(request).userId, request.params.provider);
        return reply.code(204).send(null);
      },
    );
  });
}

/**
 * Host agents' routes: register (the one-time registration token is the credential),
 * refresh (the refresh token is), heartbeat (host JWT of that very host).
 */
import type { FastifyInstance } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../../context.js';
import { hostView } from '../../../domain/hosts/host-view.js';
import { recordHeartbeat, refreshSession, registerAgent } from '../../../domain/hosts/agent-session.js';
import { authScope } from '../../plugins/auth.js';
import { HeartbeatBody, HeartbeatReply, HostParams, RefreshBody, RegisterBody, SessionReply } from './schemas.js';

const tags = ['hosts'];

export async function hostAgentRoutes(app: FastifyInstance, ctx: ControlPlaneContext): Promise<void> {
  /** Wrenn's RegisterHostResponse/RefreshHostTokenResponse fields (`host`, `token`) beside ours. */
  const withHost = async <T extends { host_id: string; access_token: string }>(session: T) => ({
    ...session,
    token: session.access_token,
    host: hostView(await ctx.db.selectFrom('hosts').selectAll().where('id', '=', session.host_id).executeTakeFirstOrThrow()),
  });
  const open = app.withTypeProvider<TypeBoxTypeProvider>();
  open.post(
    '/hosts/register',
    {
      schema: {
        tags,
        security: [],
        summary: 'Exchange a one-time registration token for host credentials (called by wrenn-agent --register)',
        body: RegisterBody,
        response: { 200: SessionReply },
      },
    },
    async (request) => withHost(await registerAgent(ctx, request.body)),
  );

  open.post(
    '/hosts/auth/refresh',
    { schema: { tags, security: [], summary: 'Rotate host credentials: the refresh token is spent, a new pair returned', body: RefreshBody, response: { 200: SessionReply } } },
    async (request) => withHost(await refreshSession(ctx, request.body.refresh_token)),
  );

  await app.register(async (scope) => {
    authScope(scope, ctx, { allow: ['host'] });
    scope.withTypeProvider<TypeBoxTypeProvider>().post(
      '/hosts/:id/heartbeat',
      {
        schema: {
          tags,
          security: [{ bearer: [] }],
          summary: 'Report liveness and capacity (host JWT of this host)',
          params: HostParams,
          body: HeartbeatBody,
          response: { 200: HeartbeatReply },
        },
      },
      async (request) => {
        const auth = request.auth;
        if (auth?.kind !== 'host' || auth.hostId !== request.params.id) {
          throw new WrennError('permission_denied', `this host token belongs to another host: a host may only heartbeat as itself (${request.params.id})`);
        }
        return recordHeartbeat(ctx, auth.hostId, request.body);
      },
    );
  });
}

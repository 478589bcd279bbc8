/**
 * Authentication and capsule access for WebSocket routes (docs/decisions.md#c1). Credentials in the upgrade
 * request (X-API-Key or Authorization: Bearer) are checked before the handshake, and a
 * bad one refuses it with 401. Browsers cannot set headers on a WebSocket, so an upgrade
 * without credentials is accepted and must send `{type:"auth", api_key | token}` as its
 * first message within the auth timeout. Then the usual rules: another team's (or an
 * unknown) capsule closes with 4404, no or bad credentials 4401, a capsule that is not
 * running 4409 naming its state (a paused auto_resume capsule is resumed instead).
 * The credentials used are kept with the opened capsule: the socket re-checks them for as
 * long as it is open (ws/credential-watch.ts).
 */
import type { FastifyRequest } from 'fastify';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../context.js';
import type { Capsule } from '../db/schema.js';
import type { AgentClient } from '../infra/agent-pool.js';
import { authorize, credentialsFrom, resolvePrincipal, type AuthScopeOptions, type Principal } from '../domain/accounts/principal.js';
import { usableCapsule } from '../domain/capsules/pause.js';
import { AuthMessage, expectMessage, isType } from './messages.js';
import { TIMED_OUT, type Inbound, type WsChannel } from './ws-channel.js';

/** Capsule routes take a user JWT or a team API key. */
export const CAPSULE_ACCESS: AuthScopeOptions = { allow: ['user', 'apiKey'] };

/** An API key or a bearer token, from the upgrade headers or the auth message. */
export type SocketCredentials = Parameters<typeof resolvePrincipal>[1];

export interface SocketAuth {
  principal: Principal;
  credentials: SocketCredentials;
}

/** onRequest hook of the WebSocket scope: header credentials, when present, must be valid. */
export function wsHeaderAuth(ctx: ControlPlaneContext) {
  return async (request: FastifyRequest): Promise<void> => {
    const creds = credentialsFrom(request.headers);
    if (creds.apiKey || creds.bearer) request.auth = authorize(await resolvePrincipal(ctx, creds), CAPSULE_ACCESS);
  };
}

/** The principal and the credentials it came from: the upgrade headers, or the first message. */
export async function authenticateSocket(ctx: ControlPlaneContext, channel: WsChannel, request: FastifyRequest): Promise<SocketAuth> {
  // wsHeaderAuth already checked header credentials when there were any.
  if (request.auth) return { principal: request.auth, credentials: credentialsFrom(request.headers) };
  const timeoutSec = ctx.config.wsAuthTimeoutSec;
  const first = await channel.next(timeoutSec * 1000);
  const how = `send X-API-Key or Authorization: Bearer with the upgrade request, or {"type":"auth","api_key":"wrn_..."} (or "token": "<JWT>") as the first message within ${timeoutSec} s`;
  if (first === TIMED_OUT || first === undefined) throw new WrennError('unauthenticated', `authentication required: ${how}`);
  if (!('value' in first) || first.value.type !== 'auth') throw new WrennError('unauthenticated', `authentication required before anything else: ${how}`);
  let msg: AuthMessage;
  try {
    msg = expectMessage(first, AuthMessage);
  } catch (err) {
    throw new WrennError('unauthenticated', (err as Error).message);
  }
  if (!msg.api_key && !msg.token) throw new WrennError('unauthenticated', `the auth message carries no credentials: ${how}`);
  const credentials: SocketCredentials = { apiKey: msg.api_key, bearer: msg.token };
  return { principal: authorize(await resolvePrincipal(ctx, credentials), CAPSULE_ACCESS), credentials };
}

export interface OpenedCapsule {
  principal: Principal;
  /** What the principal was resolved from, to re-check while the socket is open. */
  credentials: SocketCredentials;
  capsule: Capsule;
  agent: AgentClient;
}

/**
 * Authenticates the socket and finds the team's running capsule and its agent (a paused
 * capsule created with auto_resume is resumed first, as on the REST routes); throws WrennErrors.
 */
export async function openCapsule(ctx: ControlPlaneContext, channel: WsChannel, request: FastifyRequest, capsuleId: string, operation: string): Promise<OpenedCapsule> {
  const { principal, credentials } = await authenticateSocket(ctx, channel, request);
  if (principal.kind === 'host') throw new WrennError('permission_denied', 'this route acts on a team: use a user token or an API key');
  const { capsule, agent } = await usableCapsule(ctx, principal.teamId, capsuleId, operation);
  return { principal, credentials, capsule, agent };
}

/** The next message that is not `auth` (a client authenticated by header may still send one). */
export async function nextCommand(channel: WsChannel): Promise<Inbound | undefined> {
  for (;;) {
    const m = await channel.next();
    if (m === TIMED_OUT) continue;
    if (m === undefined || !isType(m, 'auth')) return m;
  }
}

/**
 * What a host agent does with the control plane: exchange its one-time registration token
 * for credentials (a 1 h host JWT and a 30-day refresh token that rotates on every use),
 * and heartbeat its capacity. A heartbeat brings a `down` host back `up`; the reconciler
 * then sorts out the capsules that were marked `missing` while it was away.
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import { emitHostEvent } from '../channels/events.js';
import type { ControlPlaneContext } from '../../context.js';
import type { HostStatus } from '../../db/schema.js';
import { newOpaqueToken, sha256Hex } from '../../infra/secrets.js';
import { newId } from '../ids.js';
import { secondsFromNow } from './registry.js';

export const HOST_ACCESS_TTL_SEC = 3600;
export const REFRESH_TOKEN_TTL_SEC = 30 * 24 * 3600;
export const REFRESH_TOKEN_PREFIX = 'hrt_';
/** How long the control plane waits for the agent's Health while checking a registration. */
const REGISTER_PROBE_TIMEOUT_MS = 5000;

export interface HostCapacity {
  vcpus_total: number;
  memory_total_bytes: number;
  memory_free_bytes: number;
  disk_free_bytes: number;
}

export interface RegisterInput extends HostCapacity {
  token: string;
  agent_url: string;
  agent_token: string;
  proxy_url?: string;
  version: string;
  name?: string;
}

export interface HostSession {
  host_id: string;
  access_token: string;
  refresh_token: string;
  /** Seconds the access token is valid for. */
  expires_in: number;
}

async function issueSession(ctx: ControlPlaneContext, hostId: string, db = ctx.db): Promise<HostSession> {
  const refreshToken = newOpaqueToken(REFRESH_TOKEN_PREFIX);
  await db
    .insertInto('host_tokens')
    .values({ id: newId('htok'), host_id: hostId, kind: 'refresh', token_hash: sha256Hex(refreshToken), expires_at: secondsFromNow(REFRESH_TOKEN_TTL_SEC) })
    .execute();
  const accessToken = await ctx.jwt.sign({ kind: 'host', host: hostId }, HOST_ACCESS_TTL_SEC);
  return { host_id: hostId, access_token: accessToken, refresh_token: refreshToken, expires_in: HOST_ACCESS_TTL_SEC };
}

/**
 * Checks that the control plane can reach the agent at the address it gave, with the token
 * it gave: a registration the control plane cannot use would only fail later, at the
 * first capsule.
 */
async function probeAgent(ctx: ControlPlaneContext, hostId: string, url: string, token: string): Promise<void> {
  try {
    await ctx.agents.get(hostId, url, token).health({}, { timeoutMs: REGISTER_PROBE_TIMEOUT_MS });
  } catch (err) {
    ctx.agents.evict(hostId);
    throw new WrennError(
      'unavailable',
      `the control plane cannot reach the host agent at ${url} with the token it sent (${(err as Error).message}): set WRENN_AGENT_ADVERTISE_URL to an address the control plane can reach`,
      { hostId, agentUrl: url },
    );
  }
}

export async function registerAgent(ctx: ControlPlaneContext, input: RegisterInput): Promise<HostSession> {
  const hash = sha256Hex(input.token);
  const token = await ctx.db
    .selectFrom('host_tokens')
    .select(['id', 'host_id', 'used_at', 'expires_at'])
    .where('token_hash', '=', hash)
    .where('kind', '=', 'registration')
    .executeTakeFirst();
  if (!token) throw new WrennError('unauthenticated', 'unknown registration token: create a host (POST /v1/hosts) and use the token it returns');
  if (token.used_at) throw new WrennError('unauthenticated', 'this registration token was already used: registration tokens work once; create a new host for a new token');
  if (token.expires_at.getTime() <= Date.now()) throw new WrennError('unauthenticated', 'this registration token has expired (they last 24 h): create a new host for a new token');
  const hostId = token.host_id;
  await probeAgent(ctx, hostId, input.agent_url, input.agent_token);

  const session = await ctx.db.transaction().execute(async (tx) => {
    // The check above was a read; this conditional write is what makes the token one-time
    // when two agents race with the same token.
    const consumed = await tx
      .updateTable('host_tokens')
      .set({ used_at: sql`now()` as never })
      .where('id', '=', token.id)
      .where('used_at', 'is', null)
      .returning(['id'])
      .executeTakeFirst();
    if (!consumed) throw new WrennError('unauthenticated', 'this registration token was already used: registration tokens work once; create a new host for a new token');
    await tx
      .updateTable('hosts')
      .set({
        ...(input.name ? { name: input.name } : {}),
        agent_url: input.agent_url,
        agent_token: input.agent_token,
        ...(input.proxy_url ? { proxy_url: input.proxy_url } : {}),
        version: input.version,
        vcpus_total: input.vcpus_total,
        memory_total_bytes: String(input.memory_total_bytes),
        memory_free_bytes: String(input.memory_free_bytes),
        disk_free_bytes: String(input.disk_free_bytes),
        last_heartbeat_at: sql`now()` as never,
        // An administrator's drain outlives a re-registration.
        status: sql<HostStatus>`case when status = 'draining' then 'draining' else 'up' end` as never,
      })
      .where('id', '=', hostId)
      .execute();
    return issueSession(ctx, hostId, tx);
  });
  ctx.usable.forget(); // the host may have a new address and token
  ctx.logger.info({ hostId, agentUrl: input.agent_url, version: input.version, vcpus: input.vcpus_total }, 'host agent registered');
  return session;
}

/** Rotation: the presented refresh token is spent and a new one returned with a new access token. */
export async function refreshSession(ctx: ControlPlaneContext, refreshToken: string): Promise<HostSession> {
  return ctx.db.transaction().execute(async (tx) => {
    const spent = await tx
      .updateTable('host_tokens')
      .set({ used_at: sql`now()` as never })
      .where('token_hash', '=', sha256Hex(refreshToken))
      .where('kind', '=', 'refresh')
      .where('used_at', 'is', null)
      .where('expires_at', '>', sql<Date>`now()`)
      .returning(['host_id'])
      .executeTakeFirst();
    if (!spent) {
      throw new WrennError(
        'unauthenticated',
        'unknown, already used or expired refresh token: register the agent again (wrenn-agent --register with a token from POST /v1/hosts)',
      );
    }
    // Spent and expired refresh tokens of this host have no further use.
    await tx
      .deleteFrom('host_tokens')
      .where('host_id', '=', spent.host_id)
      .where('kind', '=', 'refresh')
      .where((eb) => eb.or([eb('used_at', 'is not', null), eb('expires_at', '<=', sql<Date>`now()`)]))
      .execute();
    return issueSession(ctx, spent.host_id, tx);
  });
}

export interface HeartbeatInput {
  capsules: number;
  memory_free_bytes: number;
  disk_free_bytes: number;
  vcpus_total?: number;
  memory_total_bytes?: number;
  agent_url?: string;
  agent_token?: string;
  proxy_url?: string;
  version?: string;
  start_queue?: { waiting: number; active: number };
}

export async function recordHeartbeat(ctx: ControlPlaneContext, hostId: string, hb: HeartbeatInput): Promise<{ status: HostStatus }> {
  const before = await ctx.db.selectFrom('hosts').select(['status', 'agent_url', 'agent_token', 'proxy_url']).where('id', '=', hostId).executeTakeFirst();
  if (!before) throw new WrennError('not_found', `host ${hostId} not found`, { hostId });
  // Back from down: one conditional UPDATE decides which heartbeat (on which replica) reports it.
  const cameUp =
    before.status === 'down' &&
    (await ctx.db.updateTable('hosts').set({ status: 'up', last_heartbeat_at: sql`now()` as never }).where('id', '=', hostId).where('status', '=', 'down').returning('id').executeTakeFirst()) !== undefined;
  const row = await ctx.db
    .updateTable('hosts')
    .set({
      capsules: hb.capsules,
      memory_free_bytes: String(hb.memory_free_bytes),
      disk_free_bytes: String(hb.disk_free_bytes),
      ...(hb.vcpus_total !== undefined ? { vcpus_total: hb.vcpus_total } : {}),
      ...(hb.memory_total_bytes !== undefined ? { memory_total_bytes: String(hb.memory_total_bytes) } : {}),
      ...(hb.agent_url ? { agent_url: hb.agent_url } : {}),
      ...(hb.agent_token ? { agent_token: hb.agent_token } : {}),
      ...(hb.proxy_url ? { proxy_url: hb.proxy_url } : {}),
      ...(hb.version ? { version: hb.version } : {}),
      last_heartbeat_at: sql`now()` as never,
      // Only `down` comes back by itself: a drain is the administrator's to lift.
      status: sql<HostStatus>`case when status = 'down' then 'up' else status end` as never,
    })
    .where('id', '=', hostId)
    .returning(['status'])
    .executeTakeFirst();
  if (!row) throw new WrennError('not_found', `host ${hostId} was deleted`, { hostId });
  if (hb.start_queue) ctx.startQueues.record(hostId, hb.start_queue);
  const proxyMoved = Boolean(hb.proxy_url && hb.proxy_url !== before.proxy_url);
  if ((hb.agent_url && hb.agent_url !== before.agent_url) || (hb.agent_token && hb.agent_token !== before.agent_token) || proxyMoved || before.status !== row.status) {
    ctx.usable.forget(); // calls must reach the host where it is now
  }
  if ((hb.agent_url && hb.agent_url !== before.agent_url) || (hb.agent_token && hb.agent_token !== before.agent_token)) {
    ctx.agents.evict(hostId);
    ctx.logger.info({ hostId, agentUrl: hb.agent_url ?? before.agent_url }, 'host agent address or token changed');
  }
  if (before.status !== row.status) ctx.logger.info({ hostId, from: before.status, to: row.status }, 'host is back up');
  if (cameUp) await emitHostEvent(ctx, hostId, 'host.up');
  return { status: row.status };
}

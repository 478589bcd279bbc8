/**
 * Finding a team's capsule and the agent that runs it, and the status rules operations
 * obey (ARCHITECTURE.md): every capsule route goes through here, so "another team's id
 * is a 404" and "wrong state is a 409 with the current state" hold everywhere. Calls on
 * a running capsule (exec, files, processes, WebSockets) go through `usableCapsule`
 * (capsules/pause.ts), which also resumes an auto_resume capsule.
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../context.js';
import type { Capsule, CapsuleStatus, HostStatus } from '../db/schema.js';
import type { AgentClient } from '../infra/agent-pool.js';

export async function getTeamCapsule(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<Capsule> {
  const row = await ctx.db.selectFrom('capsules').selectAll().where('id', '=', capsuleId).executeTakeFirst();
  // Another team's capsule is indistinguishable from a missing one.
  if (!row || row.team_id !== teamId) throw new WrennError('capsule_not_found', `capsule ${capsuleId} not found`, { capsuleId });
  return row;
}

/** What an agent call needs to know about the capsule's host. */
export interface CapsuleHost {
  id: string;
  agent_url: string | null;
  agent_token: string | null;
  status: HostStatus;
  /** The agent's proxy listener (proxied capsule ports); null until the agent told it. */
  proxy_url: string | null;
}

/**
 * The team's capsule and its host in one query (the hot path of exec, files and
 * processes: one round trip to the database instead of two).
 */
export async function getTeamCapsuleWithHost(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<{ capsule: Capsule; host: CapsuleHost | undefined }> {
  const row = await ctx.db
    .selectFrom('capsules')
    .leftJoin('hosts', 'hosts.id', 'capsules.host_id')
    .selectAll('capsules')
    .select(['hosts.id as h_id', 'hosts.agent_url as h_agent_url', 'hosts.agent_token as h_agent_token', 'hosts.status as h_status', 'hosts.proxy_url as h_proxy_url'])
    // By primary key alone (the team is checked below): never a walk through the team's capsules.
    .where('capsules.id', '=', capsuleId)
    .executeTakeFirst();
  if (!row || row.team_id !== teamId) throw new WrennError('capsule_not_found', `capsule ${capsuleId} not found`, { capsuleId });
  const { h_id, h_agent_url, h_agent_token, h_status, h_proxy_url, ...capsule } = row;
  return { capsule, host: h_id && h_status ? { id: h_id, agent_url: h_agent_url, agent_token: h_agent_token, status: h_status, proxy_url: h_proxy_url } : undefined };
}

/** Refuses the operation unless the capsule is in one of `allowed` (409 naming the state). */
export function assertStatus(capsule: Capsule, allowed: readonly CapsuleStatus[], operation: string): void {
  if (!allowed.includes(capsule.status)) {
    throw new WrennError('capsule_busy', `cannot ${operation}: capsule ${capsule.id} is ${capsule.status}${capsule.error ? ` (${capsule.error})` : ''}`, {
      capsuleId: capsule.id,
      status: capsule.status,
    });
  }
}

/** The agent of `host` (already read with the capsule), or why the capsule cannot be reached. */
export function agentOfHost(ctx: ControlPlaneContext, capsule: Capsule, host: CapsuleHost | undefined): AgentClient {
  if (!capsule.host_id) throw new WrennError('unavailable', `capsule ${capsule.id} is not placed on a host`);
  if (!host) throw new WrennError('unavailable', `the host of capsule ${capsule.id} is gone`);
  if (host.status === 'down') throw new WrennError('unavailable', `the host of capsule ${capsule.id} (${host.id}) is down; the capsule is unreachable until it returns`);
  return ctx.agents.get(host.id, host.agent_url, host.agent_token);
}

export async function agentFor(ctx: ControlPlaneContext, capsule: Capsule): Promise<AgentClient> {
  if (!capsule.host_id) throw new WrennError('unavailable', `capsule ${capsule.id} is not placed on a host`);
  const host = await ctx.db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token', 'status', 'proxy_url']).where('id', '=', capsule.host_id).executeTakeFirst();
  return agentOfHost(ctx, capsule, host);
}

/**
 * Finding a team's capsule and the agent that runs it, and the status rules operations
 * obey (docs/architecture.md#a-capsules-life): every capsule route goes through here, so "another team's id
 * is a 404" and "wrong state is a 409 with the current state" hold everywhere. Calls on
 * a running capsule (exec, files, processes, WebSockets) go through `usableCapsule`
 * (capsules/pause.ts), which also resumes an auto_resume capsule.
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../context.js';
import type { Capsule, CapsuleStatus } from '../db/schema.js';
import type { AgentClient } from '../infra/agent-pool.js';
import { findCapsule, findCapsuleHost, findCapsuleWithHost, type CapsuleHostRow } from '../db/repos/capsules.js';

export async function getTeamCapsule(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<Capsule> {
  const row = await findCapsule(ctx.db, capsuleId);
  // Another team's capsule is indistinguishable from a missing one.
  if (!row || row.team_id !== teamId) throw new WrennError('capsule_not_found', `capsule ${capsuleId} not found`, { capsuleId });
  return row;
}

/** What an agent call needs to know about the capsule's host (its proxy_url: the agent's proxy listener, null until the agent told it). */
export type CapsuleHost = CapsuleHostRow;

/**
 * The team's capsule and its host in one query (the hot path of exec, files and
 * processes: one round trip to the database instead of two).
 */
export async function getTeamCapsuleWithHost(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<{ capsule: Capsule; host: CapsuleHost | undefined }> {
  const found = await findCapsuleWithHost(ctx.db, capsuleId);
  // Another team's capsule is indistinguishable from a missing one.
  if (!found || found.capsule.team_id !== teamId) throw new WrennError('capsule_not_found', `capsule ${capsuleId} not found`, { capsuleId });
  return found;
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
  const host = await findCapsuleHost(ctx.db, capsule.host_id);
  return agentOfHost(ctx, capsule, host);
}

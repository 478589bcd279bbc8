/**
 * Finding a team's capsule and the agent that runs it, and the status rules operations
 * obey (ARCHITECTURE.md): every capsule route goes through here, so "another team's id
 * is a 404" and "wrong state is a 409 with the current state" hold everywhere.
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../context.js';
import type { Capsule, CapsuleStatus } from '../db/schema.js';
import type { AgentClient } from '../infra/agent-pool.js';

export async function getTeamCapsule(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<Capsule> {
  const row = await ctx.db.selectFrom('capsules').selectAll().where('id', '=', capsuleId).where('team_id', '=', teamId).executeTakeFirst();
  // Another team's capsule is indistinguishable from a missing one.
  if (!row) throw new WrennError('capsule_not_found', `capsule ${capsuleId} not found`, { capsuleId });
  return row;
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

export async function agentFor(ctx: ControlPlaneContext, capsule: Capsule): Promise<AgentClient> {
  if (!capsule.host_id) throw new WrennError('unavailable', `capsule ${capsule.id} is not placed on a host`);
  const host = await ctx.db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token', 'status']).where('id', '=', capsule.host_id).executeTakeFirst();
  if (!host) throw new WrennError('unavailable', `the host of capsule ${capsule.id} is gone`);
  if (host.status === 'down') throw new WrennError('unavailable', `the host of capsule ${capsule.id} (${host.id}) is down; the capsule is unreachable until it returns`);
  return ctx.agents.get(host.id, host.agent_url, host.agent_token);
}

/** A running capsule of the team and its agent; records activity (auto-pause timer). */
export async function runningCapsule(ctx: ControlPlaneContext, teamId: string, capsuleId: string, operation: string): Promise<{ capsule: Capsule; agent: AgentClient }> {
  const capsule = await getTeamCapsule(ctx, teamId, capsuleId);
  assertStatus(capsule, ['running'], operation);
  const agent = await agentFor(ctx, capsule);
  void ctx.db.updateTable('capsules').set({ last_activity_at: sql`now()` as never }).where('id', '=', capsule.id).execute().catch(() => {});
  return { capsule, agent };
}

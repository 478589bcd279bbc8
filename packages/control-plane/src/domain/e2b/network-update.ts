/** A sandbox's egress rules as stored, and replacing them on a running or paused sandbox. */
import type { ControlPlaneContext } from '../../context.js';
import { agentFor } from '../capsule-access.js';
import { agentEgressOf, checkedNetwork, type SandboxNetwork } from './network.js';
import { getSandbox, type SandboxRecord } from './sandboxes.js';

export function networkOf(r: SandboxRecord): SandboxNetwork {
  return { allowInternetAccess: r.sandbox.allow_internet_access, allowOut: r.sandbox.allow_out, denyOut: r.sandbox.deny_out };
}

/**
 * Replaces a running or paused sandbox's egress rules (E2B's update replaces, it does not
 * merge): the host first (so a refusal changes nothing), then the record.
 */
export async function updateSandboxNetwork(ctx: ControlPlaneContext, teamId: string, sandboxId: string, network: SandboxNetwork): Promise<void> {
  const next = checkedNetwork(network);
  const record = await getSandbox(ctx, teamId, sandboxId);
  const agent = await agentFor(ctx, record.capsule);
  await agent.setEgress({ capsuleId: sandboxId, ...agentEgressOf(next) }, { timeoutMs: ctx.config.agentTimeoutMs });
  await ctx.db
    .updateTable('e2b_sandboxes')
    .set({ allow_internet_access: next.allowInternetAccess, allow_out: JSON.stringify(next.allowOut), deny_out: JSON.stringify(next.denyOut) })
    .where('capsule_id', '=', sandboxId)
    .execute();
  ctx.logger.info({ capsuleId: sandboxId, teamId, allowInternetAccess: next.allowInternetAccess, allowOut: next.allowOut.length, denyOut: next.denyOut.length }, 'sandbox egress rules replaced');
}

/**
 * A capsule's egress rules through the native API (an extension: PUT /v1/capsules/{id}/egress):
 * internet on/off and its own deny list with allow exceptions (addresses, CIDRs, and in
 * allow_out domain names resolved at the host), replaced at once on a running capsule and
 * from its resume on a paused one. The host agent enforces and keeps them; an E2B
 * sandbox's row follows, so the E2B API shows the same rules. The host's deny set still
 * applies whatever a capsule allows.
 */
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { agentFor, getTeamCapsule } from '../capsule-access.js';
import { checkedNetwork } from '../e2b/network.js';

export interface CapsuleEgress {
  internet: boolean;
  allow_out: string[];
  deny_out: string[];
}

export async function setCapsuleEgress(ctx: ControlPlaneContext, teamId: string, capsuleId: string, want: CapsuleEgress): Promise<CapsuleEgress> {
  const lists = checkedNetwork({ allowInternetAccess: want.internet, allowOut: want.allow_out, denyOut: want.deny_out });
  const capsule = await getTeamCapsule(ctx, teamId, capsuleId);
  if (capsule.status !== 'running' && capsule.status !== 'paused') {
    throw new WrennError('capsule_busy', `cannot change the egress of capsule ${capsuleId}: it is ${capsule.status}`, { capsuleId, status: capsule.status });
  }
  const agent = await agentFor(ctx, capsule);
  const res = await agent.setEgress({ capsuleId, egress: want.internet, denyOut: lists.denyOut, allowOut: lists.allowOut }, { timeoutMs: ctx.config.agentTimeoutMs });
  await ctx.db
    .updateTable('e2b_sandboxes')
    .set({ allow_internet_access: want.internet, allow_out: JSON.stringify(lists.allowOut), deny_out: JSON.stringify(lists.denyOut) })
    .where('capsule_id', '=', capsuleId)
    .execute();
  ctx.logger.info({ capsuleId, teamId, internet: want.internet, allowOut: lists.allowOut.length, denyOut: lists.denyOut.length }, 'capsule egress rules replaced');
  return { internet: res.capsule?.egress ?? want.internet, allow_out: res.capsule?.allowOut ?? lists.allowOut, deny_out: res.capsule?.denyOut ?? lists.denyOut };
}

/**
 * Pause and resume through the host agent's Pause/Resume RPCs, on the status machine
 * running → pausing → paused → resuming → running. A failed pause is followed by a
 * liveness check (docs/decisions.md#h3, #h11): the capsule goes back to what the agent says it is, or to
 * `error` when the agent no longer has it, never to a `running` that cannot execute.
 * An agent without these RPCs answers Unimplemented: the capsule is left as it was and the
 * caller gets 501.
 */
import { sql } from 'kysely';
import { CapsuleStatus as AgentStatus } from '@wrenn/proto/hostagent';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Capsule, CapsuleStatus } from '../../db/schema.js';
import type { AgentClient } from '../../infra/agent-pool.js';
import { agentFor, agentOfHost, getTeamCapsule, getTeamCapsuleWithHost, type CapsuleHost } from '../capsule-access.js';
import { codeOf, reasonOf } from './agent-errors.js';
import { busy, markError, transition } from './status.js';
import { accountUsage } from './usage.js';

function notImplemented(capsule: Capsule, op: 'pause' | 'resume', err: unknown): WrennError {
  return new WrennError(
    'not_implemented',
    `the host agent of capsule ${capsule.id} cannot ${op} capsules (its version has no ${op === 'pause' ? 'Pause' : 'Resume'} RPC); the capsule is still ${op === 'pause' ? 'running' : 'paused'}. Upgrade the host agent.`,
    { capsuleId: capsule.id },
    { cause: err },
  );
}

/** After a failed pause/resume: what the agent says the capsule is now. */
async function settleAfterFailure(ctx: ControlPlaneContext, agent: AgentClient, capsule: Capsule, from: CapsuleStatus, fallback: CapsuleStatus, err: unknown): Promise<void> {
  let agentStatus: AgentStatus | undefined;
  let gone = false;
  try {
    agentStatus = (await agent.get({ capsuleId: capsule.id }, { timeoutMs: 30_000 })).capsule?.status;
  } catch (e) {
    gone = codeOf(e) === 'capsule_not_found';
  }
  const to: CapsuleStatus | undefined =
    agentStatus === AgentStatus.RUNNING ? 'running' : agentStatus === AgentStatus.PAUSED ? 'paused' : gone || agentStatus === AgentStatus.ERROR ? undefined : fallback;
  if (to) {
    await transition(ctx, capsule, [from], to, 'settle', to === 'running' ? { usage_accounted_at: sql`now()` as never } : {}).catch(() => {});
  } else {
    await markError(ctx, capsule.id, `${from === 'pausing' ? 'pause' : 'resume'} failed and the capsule is gone from its host: ${reasonOf(err)}`);
  }
}

/** Pauses a running capsule; pausing a paused capsule returns it unchanged. */
export async function pauseCapsule(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<Capsule> {
  const capsule = await getTeamCapsule(ctx, teamId, capsuleId);
  if (capsule.status === 'paused') return capsule;
  if (capsule.status !== 'running') throw busy(capsule, 'pause');
  const agent = await agentFor(ctx, capsule);
  await accountUsage(ctx.db, { capsuleId });
  await transition(ctx, capsule, ['running'], 'pausing', 'pause');
  try {
    await agent.pause({ capsuleId }, { timeoutMs: ctx.config.agentTimeoutMs });
  } catch (err) {
    if (codeOf(err) === 'not_implemented') {
      await transition(ctx, capsule, ['pausing'], 'running', 'pause', { usage_accounted_at: sql`now()` as never }).catch(() => {});
      throw notImplemented(capsule, 'pause', err);
    }
    await settleAfterFailure(ctx, agent, capsule, 'pausing', 'running', err);
    throw err;
  }
  ctx.logger.info({ capsuleId, teamId }, 'capsule paused');
  return transition(ctx, capsule, ['pausing'], 'paused', 'pause');
}

/** Resumes a paused capsule; resuming a running capsule returns it unchanged. */
export async function resumeCapsule(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<Capsule> {
  const capsule = await getTeamCapsule(ctx, teamId, capsuleId);
  if (capsule.status === 'running') return capsule;
  if (capsule.status !== 'paused') throw busy(capsule, 'resume');
  const agent = await agentFor(ctx, capsule);
  await transition(ctx, capsule, ['paused'], 'resuming', 'resume');
  let address: string | undefined;
  try {
    address = (await agent.resume({ capsuleId }, { timeoutMs: ctx.config.agentTimeoutMs })).capsule?.address;
  } catch (err) {
    if (codeOf(err) === 'not_implemented') {
      await transition(ctx, capsule, ['resuming'], 'paused', 'resume').catch(() => {});
      throw notImplemented(capsule, 'resume', err);
    }
    await settleAfterFailure(ctx, agent, capsule, 'resuming', 'paused', err);
    throw err;
  }
  const now = sql`now()` as never;
  ctx.logger.info({ capsuleId, teamId }, 'capsule resumed');
  return transition(ctx, capsule, ['resuming'], 'running', 'resume', {
    ...(address ? { address } : {}),
    last_activity_at: now,
    usage_accounted_at: now,
  });
}

const AUTO_RESUME_POLL_MS = 50;

/**
 * Auto-resume shared by every caller that finds the capsule paused: a burst of requests
 * (a browser loading a page through the port proxy, several execs) resumes it once and all
 * of them proceed, instead of one resuming and the rest getting 409 `resuming`. A resume
 * started by another control-plane replica is waited for by watching the row.
 */
async function autoResume(ctx: ControlPlaneContext, teamId: string, capsule: Capsule, operation: string): Promise<Capsule> {
  const mine = ctx.resumes.get(capsule.id);
  if (mine) return mine;
  if (capsule.status === 'resuming') return waitWhileResuming(ctx, teamId, capsule.id);
  return ctx.resumes.start(capsule.id, async () => {
    const resumed = await resumeCapsule(ctx, teamId, capsule.id);
    ctx.logger.info({ capsuleId: capsule.id, teamId, operation }, 'capsule auto-resumed');
    return resumed;
  });
}

async function waitWhileResuming(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<Capsule> {
  const deadline = Date.now() + ctx.config.agentTimeoutMs;
  for (;;) {
    const capsule = await getTeamCapsule(ctx, teamId, capsuleId);
    if (capsule.status !== 'resuming' || Date.now() >= deadline) return capsule;
    await new Promise((r) => setTimeout(r, AUTO_RESUME_POLL_MS));
  }
}

/**
 * The capsule an operation (exec, files, processes, ping, WebSockets) acts on, and its
 * agent: it must be running; a paused capsule created with auto_resume is resumed first.
 * Records activity (the auto-pause timer, written behind: see activity.ts). One database
 * query (capsule and host together), none for a capsule found usable within the last
 * second (usable-memo.ts).
 */
export async function usableCapsule(
  ctx: ControlPlaneContext,
  teamId: string,
  capsuleId: string,
  operation: string,
): Promise<{ capsule: Capsule; agent: AgentClient; host: CapsuleHost | undefined }> {
  const known = ctx.usable.recall(teamId, capsuleId);
  if (known) {
    const agent = agentOfHost(ctx, known.capsule, known.host);
    ctx.activity.touch(capsuleId);
    return { capsule: known.capsule, agent, host: known.host };
  }
  const generation = ctx.usable.generation;
  let { capsule, host } = await getTeamCapsuleWithHost(ctx, teamId, capsuleId);
  if (capsule.auto_resume && (capsule.status === 'paused' || capsule.status === 'resuming')) {
    capsule = await autoResume(ctx, teamId, capsule, operation);
  }
  if (capsule.status !== 'running') throw busy(capsule, operation);
  const agent = agentOfHost(ctx, capsule, host);
  ctx.usable.remember(capsule, host, generation);
  ctx.activity.touch(capsule.id);
  return { capsule, agent, host };
}

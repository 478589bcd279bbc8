/**
 * Creating and destroying capsules: the database row follows the status machine
 * (status.ts; a new row is born `starting` on the host it was placed on) and the host
 * agent does the work. A failure leaves the row in `error` with
 * the reason, and the caller gets the error itself (capacity → 503 with the scheduler's
 * reason, unknown template → 404, agent unreachable → 503).
 */
import { sql } from 'kysely';
import { WrennError, isWrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Capsule, Host } from '../../db/schema.js';
import type { AgentClient } from '../../infra/agent-pool.js';
import type { CreateResponse } from '@wrenn/proto/hostagent';
import { insertCapsule, stampActivity } from '../../db/repos/capsules.js';
import { agentFor, getTeamCapsule } from '../capsule-access.js';
import { newId } from '../ids.js';
import { publicCapacityError } from '../scheduler.js';
import { hostTemplateName } from '../snapshots.js';
import { codeOf, isNotConnected, reasonOf } from './agent-errors.js';
import { ALLOWED_FROM, markError, transition } from './status.js';
import { accountUsage } from './usage.js';
import { assertTeamQuota } from './quota.js';
import { usableCapsule } from './pause.js';
import type { TemplateDefaults } from '../scheduler.js';

export interface Actor {
  teamId: string;
  userId?: string | null;
  keyId?: string | null;
}

export interface CreateCapsuleInput {
  template: string;
  vcpus: number;
  memoryMb: number;
  timeoutSec: number;
  /** Unset: the host's default size (never smaller than the template). */
  diskSizeMb?: number;
  metadata: Record<string, string>;
  envs: Record<string, string>;
  autoResume: boolean;
  /** Place only on hosts carrying all of these tags. */
  hostTags?: string[];
  /** Who commands run as, and where, unless a call says otherwise (unset: the template's). */
  identity?: CapsuleIdentity;
  /** Outbound internet; default on. */
  egress?: boolean;
  /** The capsule's own egress lists (see the host agent's SetEgress); absent = none. */
  egressRules?: { denyOut: string[]; allowOut: string[] };
  /** Place on this host only (it holds something the capsule needs: its volumes). */
  hostId?: string;
  /** Volumes of that host mounted into the capsule (host agent ids), at these paths. */
  volumes?: { volumeId: string; path: string }[];
}

export interface CapsuleIdentity {
  user: string;
  workdir: string;
}

/**
 * The native API's identity for a template: Wrenn's clients expect a capsule of `minimal` to
 * run commands as root in /root (a repository initialised at `.` lands in /root). Other
 * templates keep their own USER and workdir (undefined here).
 */
export function nativeIdentity(template: string): CapsuleIdentity | undefined {
  return template === 'minimal' ? { user: 'root', workdir: '/root' } : undefined;
}

/**
 * Creates a capsule: placement first (the template's pinned host, else the least-loaded
 * one), then the row is inserted as `starting` on that host while the agent creates it,
 * and the row moves to `running`: one read (hosts, loads, template pin) before the agent
 * call, one write during it and one after.
 */
export async function createCapsule(ctx: ControlPlaneContext, actor: Actor, input: CreateCapsuleInput): Promise<Capsule> {
  const id = newId('cl');
  const log = ctx.logger.child({ capsuleId: id, teamId: actor.teamId });
  const started = Date.now();
  const row = {
    id,
    team_id: actor.teamId,
    template: input.template,
    vcpus: input.vcpus,
    memory_mb: input.memoryMb,
    disk_size_mb: input.diskSizeMb ?? 0,
    timeout_sec: input.timeoutSec,
    auto_resume: input.autoResume,
    metadata: JSON.stringify(input.metadata),
    address: null,
    envd_token: null,
    created_by_user: actor.userId ?? null,
    created_by_key: actor.keyId ?? null,
  };

  // Over the team's quota: refused before anything is recorded or placed.
  await assertTeamQuota(ctx, actor.teamId, { vcpus: input.vcpus, memoryMb: input.memoryMb, diskSizeMb: input.diskSizeMb ?? 0 });
  let host: Host;
  let ranked: Host[];
  let defaults: TemplateDefaults | null = null;
  try {
    // In the same query as the hosts: a snapshot template pins placement to its host, and
    // another team's snapshot is a 404 like a missing template.
    ({ host, ranked, defaults } = await ctx.scheduler.place({
      vcpus: input.vcpus,
      memoryMb: input.memoryMb,
      diskSizeMb: input.diskSizeMb ?? 0,
      template: { name: input.template, teamId: actor.teamId },
      teamId: actor.teamId,
      ...(input.hostTags?.length ? { hostTags: input.hostTags } : {}),
      ...(input.hostId ? { pinnedHostId: input.hostId } : {}),
    }));
  } catch (err) {
    // Not placed: the capsule is still listed, as `error` with the reason (for the team:
    // without the hosts' names and sizes).
    const reason = isWrennError(err) && err.code === 'host_at_capacity' ? reasonOf(publicCapacityError(err)) : reasonOf(err);
    await insertCapsule(ctx.db, { ...row, host_id: null, status: 'error', error: reason.slice(0, 2000) })
      .catch((e: unknown) => log.warn({ err: e }, 'could not record the failed capsule'));
    log.info({ err: reason, durationMs: Date.now() - started }, 'capsule create failed: not placed');
    throw err;
  }
  // The row is written while the agent works (database and host in parallel); both must
  // succeed. A capsule the reconciler finds on the host a moment before its row exists is
  // within its orphan grace period.
  const inserted = insertCapsule(ctx.db, { ...row, host_id: host.id, status: 'starting', error: null });

  let agent: AgentClient | undefined;
  try {
    const request: Parameters<AgentClient['create']>[0] = {
      capsuleId: id,
      template: await hostTemplateName(ctx, actor.teamId, input.template),
      vcpus: input.vcpus,
      memoryMb: input.memoryMb,
      diskSizeMb: input.diskSizeMb ?? 0,
      envs: defaults ? { ...defaults.env, ...input.envs } : input.envs,
      ...(defaults?.user ? { defaultUser: defaults.user } : {}),
      metadata: input.metadata,
      // Lifetime and auto-pause are the control plane's business (timeout_sec), not the agent's.
      lifetimeSec: 0,
      egress: input.egress ?? true,
      ...(input.egressRules ? { denyOut: input.egressRules.denyOut, allowOut: input.egressRules.allowOut } : {}),
      ...(input.identity ? { defaultUser: input.identity.user, workdir: input.identity.workdir } : {}),
      ...(input.volumes?.length ? { volumes: input.volumes } : {}),
    };
    let made: PromiseSettledResult<CreateResponse>;
    // An agent that cannot be connected to (dead process, dead machine) never saw the call:
    // the next host that fits gets it, and this one is suspect for every replica until it
    // heartbeats again, instead of taking creates until the heartbeat window marks it down.
    for (let next = 1; ; next++) {
      agent = ctx.agents.get(host.id, host.agent_url, host.agent_token);
      const [result, stored] = await Promise.allSettled([agent.create(request, { timeoutMs: ctx.config.agentTimeoutMs }), inserted]);
      made = result;
      if (stored.status === 'rejected') {
        // No row: the capsule would be an orphan on its host, so it goes again.
        if (made.status === 'fulfilled') void agent.destroy({ capsuleId: id }, { timeoutMs: ctx.config.agentTimeoutMs }).catch(() => {});
        throw stored.reason;
      }
      if (made.status === 'fulfilled' || !isNotConnected(made.reason)) break;
      const failed = host;
      await ctx.scheduler.markSuspect(failed.id).catch((e: unknown) => log.warn({ err: e, hostId: failed.id }, 'could not mark the host suspect'));
      ctx.agents.evict(failed.id);
      const following = ranked[next];
      if (!following) {
        log.warn({ hostId: failed.id, err: reasonOf(made.reason) }, 'host agent unreachable: marked suspect; no other host fits');
        break;
      }
      host = following;
      log.warn({ hostId: failed.id, nextHostId: host.id, err: reasonOf(made.reason) }, 'host agent unreachable: marked suspect, trying the next host');
      await ctx.db.updateTable('capsules').set({ host_id: host.id }).where('id', '=', id).where('status', '=', 'starting').execute();
    }
    if (made.status === 'rejected') throw made.reason;
    const res = made.value;
    const now = sql`now()` as never;
    const created = await transition(ctx, { id }, ['starting'], 'running', 'start the capsule', {
      address: res.capsule?.address || null,
      envd_token: res.envdAccessToken || null,
      disk_size_mb: res.capsule?.diskSizeMb || input.diskSizeMb || 0,
      last_activity_at: now,
      usage_accounted_at: now,
    });
    log.info({ hostId: host.id, template: input.template, durationMs: Date.now() - started }, 'capsule created');
    return created;
  } catch (err) {
    const reason = reasonOf(err);
    await inserted.catch(() => {}); // the row is there (or will never be) before it is marked
    await markError(ctx, id, reason).catch(() => {});
    log.info({ err: reason, durationMs: Date.now() - started }, 'capsule create failed');
    const code = codeOf(err);
    // A call that timed out or broke mid-way may have left a capsule on the host: remove it
    // (the agent's Create is idempotent per id, so this cannot hit another capsule).
    if (agent && (code === 'deadline_exceeded' || code === 'canceled' || code === 'internal' || code === 'capsule_busy')) {
      void agent.destroy({ capsuleId: id }, { timeoutMs: ctx.config.agentTimeoutMs }).catch(() => {});
    }
    if (code === 'not_found') {
      throw new WrennError('template_not_found', `template ${input.template} does not exist: pick one listed by GET /v1/snapshots`, { template: input.template }, { cause: err });
    }
    if (code === 'template_not_found') {
      throw new WrennError('template_not_found', `${(err as Error).message}: pick one listed by GET /v1/snapshots`, { template: input.template }, { cause: err });
    }
    throw err;
  }
}

/**
 * Destroys a capsule and keeps its row as `stopped` (GET keeps answering 200). Already
 * stopped → nothing to do. An unreachable agent leaves a running or paused capsule as it
 * was (503); a capsule already `missing`/`error` is marked stopped anyway, and the
 * reconciler removes what is left on the host when it comes back.
 */
export async function destroyCapsule(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<Capsule> {
  const capsule = await getTeamCapsule(ctx, teamId, capsuleId);
  if (capsule.status === 'stopped') return capsule;
  const previous = capsule.status;
  await accountUsage(ctx.db, { capsuleId });
  await transition(ctx, capsule, ALLOWED_FROM.destroy, 'stopping', 'destroy');
  try {
    if (capsule.host_id) {
      const agent = await agentFor(ctx, capsule);
      await agent.destroy({ capsuleId }, { timeoutMs: ctx.config.agentTimeoutMs });
    }
  } catch (err) {
    const leftover = previous === 'missing' || previous === 'error';
    if (codeOf(err) !== 'capsule_not_found' && !(leftover && codeOf(err) === 'unavailable')) {
      // The capsule is still there: put it back as it was, so it stays usable and destroyable.
      await transition(ctx, capsule, ['stopping'], previous, 'destroy').catch(() => {});
      throw err;
    }
  }
  const row = await transition(ctx, capsule, ['stopping'], 'stopped', 'destroy', {
    stopped_at: sql`now()` as never,
    address: null,
    envd_token: null,
  });
  ctx.logger.info({ capsuleId, teamId, from: previous }, 'capsule destroyed');
  return row;
}

/** Liveness of a running capsule's envd; counts as activity (resets the auto-pause timer). */
export async function pingCapsule(ctx: ControlPlaneContext, teamId: string, capsuleId: string): Promise<{ status: Capsule['status']; healthy: boolean }> {
  const { capsule, agent } = await usableCapsule(ctx, teamId, capsuleId, 'ping');
  const res = await agent.ping({ capsuleId }, { timeoutMs: 30_000 });
  await stampActivity(ctx.db, [capsuleId]);
  return { status: capsule.status, healthy: res.healthy };
}

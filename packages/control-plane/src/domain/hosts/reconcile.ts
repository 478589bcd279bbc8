/**
 * The reconciler: each host agent is the source of truth for what runs on it, the database
 * for what should. For every `up` or draining host it lists the agent's capsules and fixes
 * the drift:
 * - on the host but unknown to the database, or known as stopped/error → destroyed (orphans);
 * - running/paused/missing in the database but gone from the host → `stopped`, error
 *   "vanished from host";
 * - `missing` in the database and present on the host → the host's status again;
 * - running/paused in the database but failed on the host → `error` with the host's reason;
 * - left half-way (`starting`, `pausing`, `resuming`, `stopping`) for longer than
 *   `settleAfterMs` (the control plane that ran the operation died: a live one moves the
 *   row the moment the agent answers) → what the host says: its stable state, or, when
 *   the host does not have the capsule, `error` (a create or resume that never finished)
 *   or `stopped` (a stop, or a pause whose capsule is gone).
 * Hosts run in parallel, each under its own deadline; a host that cannot be reached is
 * skipped with a warning (marking hosts down is the liveness worker's job).
 *
 * @example const results = await reconcileOnce(ctx); // what a test or an operator runs by hand
 */
import { CapsuleStatus as AgentStatus, type Capsule as AgentCapsule } from '@wrenn/proto/hostagent';
import { sql } from 'kysely';
import { WrennError, type Logger } from '@wrenn/shared';
import { emitCapsuleTransition } from '../channels/events.js';
import type { ControlPlaneContext } from '../../context.js';
import type { CapsuleStatus, Host } from '../../db/schema.js';
import type { AgentClient } from '../../infra/agent-pool.js';
import { FINISHED_CAPSULE_STATUSES } from './registry.js';

export interface ReconcileOptions {
  /** Aborts the whole pass (worker shutdown). */
  signal?: AbortSignal;
  /** Everything done for one host (list + destroys) must finish within this. Default 60 s. */
  hostDeadlineMs?: number;
  /** Deadline of the List call. Default 15 s. */
  listTimeoutMs?: number;
  /**
   * Capsules the database has no row for at all are left alone while younger than this
   * (by the agent's clock): a create may have reached the agent before its row was
   * committed. Default 60 s.
   */
  orphanGraceMs?: number;
  /** Only these hosts (default: every up or draining host). */
  hostIds?: string[];
  /**
   * A capsule left in a transitional status this long is settled from what its host says
   * (see above). Default 60 s: far longer than a live operation keeps a row transitional
   * after its agent call ends; while the agent itself still reports the capsule as
   * transitional it is left alone.
   */
  settleAfterMs?: number;
}

/** Statuses a control plane operation holds while it runs. */
const TRANSITIONAL: readonly CapsuleStatus[] = ['starting', 'pausing', 'resuming', 'stopping'];

/** What a capsule left half-way becomes when its host does not have it. */
const LOST_ON_HOST: Partial<Record<CapsuleStatus, { status: CapsuleStatus; error: string | null; stopped?: boolean }>> = {
  starting: { status: 'error', error: 'its create was interrupted (the control plane stopped before it finished): create it again' },
  resuming: { status: 'error', error: 'its resume was interrupted (the control plane stopped before it finished) and the host no longer has it' },
  pausing: { status: 'stopped', error: 'its pause was interrupted (the control plane stopped before it finished) and the host no longer has it', stopped: true },
  stopping: { status: 'stopped', error: null, stopped: true },
};

export interface HostReconcileResult {
  hostId: string;
  /** False when the host could not be listed (skipped this pass). */
  reached: boolean;
  error?: string;
  /** Orphans destroyed on the host. */
  destroyed: string[];
  /** Capsules marked stopped because the host no longer has them. */
  vanished: string[];
  /** Missing capsules found again, with the status they got back. */
  restored: Array<{ id: string; status: CapsuleStatus }>;
  /** Capsules marked error because the host reports them failed. */
  failed: string[];
  /** Capsules left half-way by a control plane that died, settled from the host's state. */
  settled: Array<{ id: string; from: CapsuleStatus; status: CapsuleStatus }>;
}

/** The database statuses that say "this capsule lives on its host". */
const EXPECTED_ON_HOST: readonly CapsuleStatus[] = ['running', 'paused', 'missing'];

/** Stable agent states a missing capsule can return to. */
const BACK_FROM_AGENT: Partial<Record<AgentStatus, CapsuleStatus>> = {
  [AgentStatus.RUNNING]: 'running',
  [AgentStatus.PAUSED]: 'paused',
  [AgentStatus.ERROR]: 'error',
};

export async function reconcileOnce(ctx: ControlPlaneContext, opts: ReconcileOptions = {}): Promise<HostReconcileResult[]> {
  let q = ctx.db.selectFrom('hosts').selectAll().where('status', 'in', ['up', 'draining']).where('agent_url', 'is not', null);
  if (opts.hostIds) {
    if (opts.hostIds.length === 0) return [];
    q = q.where('id', 'in', opts.hostIds);
  }
  const hosts = await q.execute();
  return Promise.all(hosts.map((h) => reconcileHost(ctx, h, opts)));
}

export async function reconcileHost(ctx: ControlPlaneContext, host: Host, opts: ReconcileOptions = {}): Promise<HostReconcileResult> {
  const log = ctx.logger.child({ worker: 'reconciler', hostId: host.id });
  const result: HostReconcileResult = { hostId: host.id, reached: false, destroyed: [], vanished: [], restored: [], failed: [], settled: [] };
  const deadline = AbortSignal.timeout(opts.hostDeadlineMs ?? 60_000);
  const signal = opts.signal ? AbortSignal.any([opts.signal, deadline]) : deadline;
  const started = Date.now();

  // Database first, agent second: a capsule the database calls running was created on the
  // agent before this read, so its absence from the later listing is real.
  const expected = await ctx.db
    .selectFrom('capsules')
    .select(['id', 'status'])
    .where('host_id', '=', host.id)
    .where('status', 'in', [...EXPECTED_ON_HOST])
    .execute();
  const settleAfterSec = (opts.settleAfterMs ?? 60_000) / 1000;
  const stale = await ctx.db
    .selectFrom('capsules')
    .select(['id', 'status'])
    .where('host_id', '=', host.id)
    .where('status', 'in', [...TRANSITIONAL])
    .where('updated_at', '<=', sql<Date>`now() - make_interval(secs => ${settleAfterSec}::double precision)`)
    .execute();

  let agent: AgentClient;
  let onHost: AgentCapsule[];
  try {
    agent = ctx.agents.get(host.id, host.agent_url, host.agent_token);
    onHost = (await agent.list({}, { signal, timeoutMs: opts.listTimeoutMs ?? 15_000 })).capsules;
  } catch (err) {
    result.error = (err as Error).message;
    log.warn({ err: result.error, agentUrl: host.agent_url }, 'reconcile: host unreachable, skipped this pass');
    return result;
  }
  result.reached = true;
  const hostById = new Map(onHost.map((c) => [c.id, c]));

  for (const row of expected) {
    const there = hostById.get(row.id);
    if (!there) {
      if (await transition(ctx, host.id, row.id, row.status, { status: 'stopped', error: `vanished from host ${host.id}`, stopped: true })) {
        result.vanished.push(row.id);
        log.warn({ capsuleId: row.id, was: row.status }, 'reconcile: capsule vanished from its host: marked stopped');
      }
      continue;
    }
    if (row.status === 'missing') {
      const back = BACK_FROM_AGENT[there.status];
      // Transitional agent states settle by the next pass.
      if (!back) continue;
      const error = back === 'error' ? there.error || 'failed on its host' : null;
      if (await transition(ctx, host.id, row.id, 'missing', { status: back, error })) {
        result.restored.push({ id: row.id, status: back });
        log.info({ capsuleId: row.id, status: back }, 'reconcile: missing capsule found on its host again');
      }
    } else if (there.status === AgentStatus.ERROR) {
      if (await transition(ctx, host.id, row.id, row.status, { status: 'error', error: there.error || 'failed on its host' })) {
        result.failed.push(row.id);
        log.warn({ capsuleId: row.id, was: row.status, reason: there.error }, 'reconcile: capsule failed on its host: marked error');
      }
    }
  }

  for (const row of stale) {
    const there = hostById.get(row.id);
    const to = there ? BACK_FROM_AGENT[there.status] : undefined;
    // The agent is still working on it (its own operation, or a queue): the next pass decides.
    if (there && !to) continue;
    const target = there ? { status: to!, error: to === 'error' ? there.error || 'failed on its host' : null } : LOST_ON_HOST[row.status];
    if (!target) continue;
    if (await transition(ctx, host.id, row.id, row.status, target)) {
      result.settled.push({ id: row.id, from: row.status, status: target.status });
      log.warn({ capsuleId: row.id, was: row.status, status: target.status, onHost: Boolean(there) }, 'reconcile: capsule left half-way by an interrupted operation: settled');
    }
  }

  const orphans = await findOrphans(ctx, host.id, onHost.filter((c) => !expected.some((r) => r.id === c.id) && !stale.some((r) => r.id === c.id)), opts.orphanGraceMs ?? 60_000, log);
  await Promise.all(
    orphans.map(async (id) => {
      try {
        await agent.destroy({ capsuleId: id }, { signal });
        result.destroyed.push(id);
        log.warn({ capsuleId: id }, 'reconcile: orphan capsule destroyed on its host');
      } catch (err) {
        if (err instanceof WrennError && err.apiCode === 'not_found') return;
        log.warn({ capsuleId: id, err: (err as Error).message }, 'reconcile: could not destroy orphan capsule (next pass retries)');
      }
    }),
  );
  const changed = result.destroyed.length + result.vanished.length + result.restored.length + result.failed.length + result.settled.length;
  log[changed > 0 ? 'info' : 'debug']({ onHost: onHost.length, expected: expected.length, ...counts(result), durationMs: Date.now() - started }, 'reconcile: host done');
  return result;
}

function counts(r: HostReconcileResult) {
  return { destroyed: r.destroyed.length, vanished: r.vanished.length, restored: r.restored.length, failed: r.failed.length, settled: r.settled.length };
}

/**
 * Capsules on the host the database does not expect there: orphans when it has no row
 * (past the grace period) and no running template build owns them, or a stopped/error one. Rows are read after the listing, so a
 * create whose row was written meanwhile is seen.
 */
async function findOrphans(ctx: ControlPlaneContext, hostId: string, candidates: AgentCapsule[], graceMs: number, log: Logger): Promise<string[]> {
  if (candidates.length === 0) return [];
  const rows = await ctx.db
    .selectFrom('capsules')
    .select(['id', 'status', 'host_id'])
    .where('id', 'in', candidates.map((c) => c.id))
    .execute();
  const byId = new Map(rows.map((r) => [r.id, r]));
  // A template build's capsule has no capsule row: it belongs to its build while that runs
  // (and is an orphan like any other once the build has ended).
  const building = new Set(
    (
      await ctx.db
        .selectFrom('builds')
        .select('capsule_id')
        .where('capsule_id', 'in', candidates.map((c) => c.id))
        .where('status', 'in', ['pending', 'running'])
        .execute()
    ).map((b) => b.capsule_id),
  );
  const orphans: string[] = [];
  for (const c of candidates) {
    const row = byId.get(c.id);
    if (building.has(c.id)) continue;
    if (!row) {
      if (Date.now() - Number(c.createdAtMs) >= graceMs) orphans.push(c.id);
      continue;
    }
    if (FINISHED_CAPSULE_STATUSES.includes(row.status)) {
      orphans.push(c.id);
      continue;
    }
    // Starting, pausing, resuming, stopping: an operation in flight owns the capsule.
    if (row.host_id !== hostId) log.warn({ capsuleId: c.id, dbHostId: row.host_id, status: row.status }, 'reconcile: capsule runs on a host other than the one the database names; left alone');
  }
  return orphans;
}

/** Compare-and-set on the capsule's status: an operation that changed it since the read wins. */
async function transition(
  ctx: ControlPlaneContext,
  hostId: string,
  capsuleId: string,
  from: CapsuleStatus,
  to: { status: CapsuleStatus; error?: string | null; stopped?: boolean },
): Promise<boolean> {
  ctx.usable.forget();
  const res = await ctx.db
    .updateTable('capsules')
    .set({
      status: to.status,
      ...(to.error !== undefined ? { error: to.error } : {}),
      ...(to.stopped ? { stopped_at: sql`now()` as never } : {}),
      updated_at: sql`now()` as never,
    })
    .where('id', '=', capsuleId)
    .where('host_id', '=', hostId)
    .where('status', '=', from)
    .returningAll()
    .executeTakeFirst();
  ctx.usable.forget();
  if (res) await emitCapsuleTransition(ctx, [from], res);
  return res !== undefined;
}

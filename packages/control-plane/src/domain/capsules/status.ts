/**
 * The capsule status machine (docs/architecture.md#a-capsules-life):
 *   pending → starting → running ⇄ pausing → paused → resuming → running
 *   running | paused | error | missing → stopping → stopped;  any failure → error.
 * Every change is one conditional UPDATE (`... where status in (from)`), so two requests
 * (or two control-plane replicas) racing on one capsule cannot both win: the loser gets a
 * 409 naming the state it found. Every change also drops what usable-memo.ts remembers,
 * and the winner of a change records its notification events (domain/channels/events.ts).
 */
import type { ControlPlaneContext } from '../../context.js';
import { WrennError } from '@wrenn/shared';
import type { Capsule, CapsuleStatus, CapsuleUpdate } from '../../db/schema.js';
import { findCapsule, markCapsuleError, moveCapsuleStatus } from '../../db/repos/capsules.js';
import { emitCapsuleTransition } from '../channels/events.js';

/**
 * States from which an operation may start. exec, files, processes and ping need
 * `running` (pause.ts: usableCapsule); pause needs `running`, resume `paused` (pause.ts).
 */
export const ALLOWED_FROM = {
  destroy: ['running', 'paused', 'error', 'missing'],
  metrics: ['running', 'paused'],
} as const satisfies Record<string, readonly CapsuleStatus[]>;

/** Every status, for filters and schemas. */
export const ALL_STATUSES = ['pending', 'starting', 'running', 'pausing', 'paused', 'resuming', 'stopping', 'stopped', 'error', 'missing'] as const satisfies readonly CapsuleStatus[];

export function busy(capsule: Pick<Capsule, 'id' | 'status' | 'error'>, operation: string): WrennError {
  const hint = capsule.status === 'stopped' ? '; create a new capsule' : capsule.status === 'paused' ? '; resume it first' : ['pending', 'starting', 'pausing', 'resuming', 'stopping'].includes(capsule.status) ? '; retry once it settles' : '';
  return new WrennError('capsule_busy', `cannot ${operation}: capsule ${capsule.id} is ${capsule.status}${capsule.error ? ` (${capsule.error})` : ''}${hint}`, {
    capsuleId: capsule.id,
    status: capsule.status,
  });
}

/**
 * Moves a capsule from one of `from` to `to` (plus `patch`), atomically. Throws 409 with
 * the current state when the capsule is no longer in `from` (someone else moved it).
 */
export async function transition(
  ctx: Pick<ControlPlaneContext, 'db' | 'usable' | 'logger'>,
  capsule: Pick<Capsule, 'id'>,
  from: readonly CapsuleStatus[],
  to: CapsuleStatus,
  operation: string,
  patch: CapsuleUpdate = {},
): Promise<Capsule> {
  // Before and after the write: no call is answered from a stale "usable" memory meanwhile.
  ctx.usable.forget();
  const row = await moveCapsuleStatus(ctx.db, capsule.id, from, to, patch);
  ctx.usable.forget();
  if (row) {
    await emitCapsuleTransition(ctx, from, row);
    return row;
  }
  const current = await findCapsule(ctx.db, capsule.id);
  if (!current) throw new WrennError('capsule_not_found', `capsule ${capsule.id} not found`, { capsuleId: capsule.id });
  throw busy(current, operation);
}

/** Records a failure: status `error` with the reason (whatever the state was). */
export async function markError(ctx: Pick<ControlPlaneContext, 'db' | 'usable'>, capsuleId: string, reason: string): Promise<void> {
  ctx.usable.forget();
  await markCapsuleError(ctx.db, capsuleId, reason);
  ctx.usable.forget();
}

/**
 * The audit log: who did what to which target, with what result. Entries are written off
 * the request path (`recordAuditLater`) so a slow or failing database never fails or slows
 * the call being audited; `flushAudit` waits for the writes still in flight (on close).
 *
 * Ids sort by time (`log-` + milliseconds + a per-process sequence + random), so "newest
 * first" and the `before` cursor are a plain comparison on the primary key.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { ControlPlaneContext } from '../context.js';
import type { AuditLog } from '../db/schema.js';

export interface AuditEntry {
  teamId: string | null;
  actorUserId?: string | null;
  actorKeyId?: string | null;
  /** `METHOD /route/:pattern` for API calls, a word (`login`, `signup`) for the rest. */
  action: string;
  targetType?: string | null;
  targetId?: string | null;
  result: 'ok' | 'error';
  statusCode: number;
  detail?: Record<string, unknown>;
  requestId?: string | null;
}

export interface AuditLogView {
  id: string;
  team_id: string | null;
  actor_user_id: string | null;
  actor_key_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  result: 'ok' | 'error';
  status_code: number;
  detail: Record<string, unknown>;
  request_id: string | null;
  created_at: string;
}

export const AUDIT_ID_PATTERN = '^log-[0-9a-z]{9,32}$';

let sequence = 0;

/** A time-ordered id: 9 base36 digits of milliseconds, 4 of sequence, 6 random. */
export function newAuditId(now = Date.now()): string {
  sequence = (sequence + 1) % 36 ** 4;
  const random = [...randomBytes(6)].map((b) => (b % 36).toString(36)).join('');
  return `log-${now.toString(36).padStart(9, '0')}${sequence.toString(36).padStart(4, '0')}${random}`;
}

export async function recordAudit(ctx: ControlPlaneContext, entry: AuditEntry): Promise<string> {
  const now = Date.now();
  const id = newAuditId(now);
  await ctx.db
    .insertInto('audit_logs')
    .values({
      id,
      team_id: entry.teamId,
      actor_user_id: entry.actorUserId ?? null,
      actor_key_id: entry.actorKeyId ?? null,
      action: entry.action,
      target_type: entry.targetType ?? null,
      target_id: entry.targetId ?? null,
      result: entry.result,
      status_code: entry.statusCode,
      detail: JSON.stringify(entry.detail ?? {}),
      request_id: entry.requestId ?? null,
      created_at: new Date(now),
    })
    .execute();
  return id;
}

const inFlight = new WeakMap<ControlPlaneContext, Set<Promise<void>>>();

/** Records without making the caller wait; a failure is logged, never thrown. */
export function recordAuditLater(ctx: ControlPlaneContext, entry: AuditEntry): void {
  let pending = inFlight.get(ctx);
  if (!pending) inFlight.set(ctx, (pending = new Set()));
  const write: Promise<void> = recordAudit(ctx, entry).then(
    () => undefined,
    (err: unknown) => ctx.logger.warn({ err, action: entry.action, requestId: entry.requestId }, 'audit log write failed; the call itself was not affected'),
  );
  pending.add(write);
  void write.finally(() => pending.delete(write));
}

/** Waits for audit writes still in flight (before the database closes). */
export async function flushAudit(ctx: ControlPlaneContext): Promise<void> {
  const pending = inFlight.get(ctx);
  if (pending) await Promise.all([...pending]);
}

export function auditView(row: AuditLog): AuditLogView {
  return {
    id: row.id,
    team_id: row.team_id,
    actor_user_id: row.actor_user_id,
    actor_key_id: row.actor_key_id,
    action: row.action,
    target_type: row.target_type,
    target_id: row.target_id,
    result: row.result,
    status_code: row.status_code,
    detail: typeof row.detail === 'string' ? (JSON.parse(row.detail) as Record<string, unknown>) : row.detail,
    request_id: row.request_id,
    created_at: new Date(row.created_at).toISOString(),
  };
}

/** A team's entries, newest first; `next_before` is the cursor of the next page (null at the end). */
export async function listAudit(
  ctx: ControlPlaneContext,
  teamId: string,
  page: { limit: number; before?: string | undefined },
): Promise<{ audit_logs: AuditLogView[]; next_before: string | null }> {
  // Byte order ("C"), not the database's locale: ids are compared as the sortable strings they are.
  const byteOrderId = sql<string>`id collate "C"`;
  let q = ctx.db.selectFrom('audit_logs').selectAll().where('team_id', '=', teamId);
  if (page.before) q = q.where(byteOrderId, '<', page.before);
  const rows = await q.orderBy(byteOrderId, 'desc').limit(page.limit + 1).execute();
  const more = rows.length > page.limit;
  const entries = rows.slice(0, page.limit).map(auditView);
  return { audit_logs: entries, next_before: more ? entries[entries.length - 1]!.id : null };
}

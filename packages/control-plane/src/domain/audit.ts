/**
 * The audit log: who did what to which target, with what result. Entries are written off
 * the request path (`recordAuditLater`: queued, then written in batches) so a slow or
 * failing database never fails or slows the call being audited; `ctx.audit.flush()` writes
 * the queue and waits (before the log is read, and on close).
 *
 * Ids sort by time (`log-` + milliseconds + a per-process sequence + random), so "newest
 * first" and the `before` cursor are a plain comparison on the primary key.
 */
import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import type { ContextBase } from '../context-base.js';
import type { AuditLog } from '../db/schema.js';

/** The database and this process's queue (`ctx.audit`). */
type AuditContext = ContextBase & { readonly audit: AuditQueue };

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

function rowOf(entry: AuditEntry, now: number) {
  return {
    id: newAuditId(now),
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
  };
}

/** Writes one entry now; resolves with its id. */
export async function recordAudit(ctx: AuditContext, entry: AuditEntry): Promise<string> {
  const row = rowOf(entry, Date.now());
  await ctx.db.insertInto('audit_logs').values(row).execute();
  return row.id;
}

/** Entries wait at most this long before they are written (all together, one INSERT). */
export const AUDIT_FLUSH_MS = 250;
/** Rows per INSERT at most; a fuller queue is written at once. */
const AUDIT_BATCH_ROWS = 500;

/**
 * The audit entries this process has queued and not yet written: one per control plane
 * (`ctx.audit`), flushed before the log is read and on close.
 */
export class AuditQueue {
  private rows: Array<ReturnType<typeof rowOf>> = [];
  private timer: NodeJS.Timeout | undefined;
  /** The writes started and not finished, in order. */
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly deps: Pick<ContextBase, 'db' | 'logger'>) {}

  /**
   * Records without making the caller wait: entries are queued and written together within
   * AUDIT_FLUSH_MS (a burst of calls costs one INSERT, not one each). The id and time are
   * taken now, so order and timestamps are those of the calls. A failure is logged, never thrown.
   */
  add(entry: AuditEntry): void {
    this.rows.push(rowOf(entry, Date.now()));
    if (this.rows.length >= AUDIT_BATCH_ROWS) this.writeQueued();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.writeQueued(), AUDIT_FLUSH_MS);
      this.timer.unref();
    }
  }

  /** Writes the queued entries now and waits for every write (before reading the log). */
  async flush(): Promise<void> {
    this.writeQueued();
    await this.writing;
  }

  /** The final flush (the database is still open). */
  close(): Promise<void> {
    return this.flush();
  }

  /** Starts writing what is queued (one INSERT per AUDIT_BATCH_ROWS rows); writes run one at a time. */
  private writeQueued(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const { db, logger } = this.deps;
    while (this.rows.length > 0) {
      const batch = this.rows.splice(0, AUDIT_BATCH_ROWS);
      this.writing = this.writing.then(() =>
        db
          .insertInto('audit_logs')
          .values(batch)
          .execute()
          .then(
            () => undefined,
            (err: unknown) =>
              logger.warn({ err, entries: batch.length, actions: [...new Set(batch.map((r) => r.action))].slice(0, 10) }, 'audit log write failed; the calls themselves were not affected'),
          ),
      );
    }
  }
}

/** Queues an entry on this control plane's AuditQueue (see `AuditQueue.add`). */
export function recordAuditLater(ctx: AuditContext, entry: AuditEntry): void {
  ctx.audit.add(entry);
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

/** A team's entries (every team's for `null`), newest first; `next_before` is the cursor of the next page (null at the end). */
export async function listAudit(
  ctx: AuditContext,
  teamId: string | null,
  page: { limit: number; before?: string | undefined },
): Promise<{ audit_logs: AuditLogView[]; next_before: string | null }> {
  // Entries of calls this process already answered are in the log when it is read.
  await ctx.audit.flush();
  // Byte order ("C"), not the database's locale: ids are compared as the sortable strings they are.
  const byteOrderId = sql<string>`id collate "C"`;
  let q = ctx.db.selectFrom('audit_logs').selectAll();
  if (teamId !== null) q = q.where('team_id', '=', teamId);
  if (page.before) q = q.where(byteOrderId, '<', page.before);
  const rows = await q.orderBy(byteOrderId, 'desc').limit(page.limit + 1).execute();
  const more = rows.length > page.limit;
  const entries = rows.slice(0, page.limit).map(auditView);
  return { audit_logs: entries, next_before: more ? entries[entries.length - 1]!.id : null };
}

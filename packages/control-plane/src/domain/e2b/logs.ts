/**
 * E2B sandbox logs from what Wrenn records about a sandbox: its lifecycle as the audit log
 * has it (every API call on it, by whom, with what result; ends of life by the lifetime
 * worker) and its last error. E2B's logs are its envd's output; Wrenn's envd logs stay on
 * the host (README: E2B compatibility). Killed sandboxes keep their logs, as on E2B.
 */
import type { ControlPlaneContext } from '../../context.js';
import { anySandbox } from './sandboxes.js';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const LEVELS: LogLevel[] = ['debug', 'info', 'warn', 'error'];

export interface SandboxLogEntry {
  timestamp: string;
  level: LogLevel;
  message: string;
  fields: Record<string, string>;
}

export interface LogsQuery {
  /** Entries at or after this (forward) / at or before this (backward), ms since the epoch. */
  cursorMs?: number;
  direction: 'forward' | 'backward';
  minLevel?: LogLevel;
  limit: number;
  /** Case-sensitive substring of the message. */
  search?: string;
}

/** The sandbox's entries, oldest first (forward) or newest first (backward). */
export async function sandboxLogs(ctx: ControlPlaneContext, teamId: string, sandboxId: string, q: LogsQuery): Promise<SandboxLogEntry[]> {
  const { capsule } = await anySandbox(ctx, teamId, sandboxId);
  await ctx.audit.flush();
  const forward = q.direction === 'forward';
  let query = ctx.db
    .selectFrom('audit_logs')
    .selectAll()
    .where('team_id', '=', teamId)
    .where('target_type', '=', 'capsule')
    .where('target_id', '=', sandboxId)
    .orderBy('id', forward ? 'asc' : 'desc');
  if (q.cursorMs !== undefined) query = query.where('created_at', forward ? '>=' : '<=', new Date(q.cursorMs));
  // Unfiltered, no more rows than asked for are read (a filter may skip any number of them).
  if (q.search === undefined && q.minLevel === undefined) query = query.limit(q.limit);
  const rows = await query.execute();
  const entries: SandboxLogEntry[] = rows.map((r) => {
    const fields: Record<string, string> = { action: r.action, result: r.result, status: String(r.status_code) };
    if (r.actor_key_id) fields.apiKeyId = r.actor_key_id;
    if (r.actor_user_id) fields.userId = r.actor_user_id;
    if (r.request_id) fields.requestId = r.request_id;
    const code = (r.detail as Record<string, unknown>).error_code;
    if (typeof code === 'string') fields.errorCode = code;
    return { timestamp: new Date(r.created_at).toISOString(), level: r.result === 'error' ? 'error' : 'info', message: `${r.action}${r.status_code ? ` → ${r.status_code}` : ''}`, fields };
  });
  if (capsule.error) {
    const at = new Date(capsule.updated_at);
    const inRange = q.cursorMs === undefined || (forward ? at.getTime() >= q.cursorMs : at.getTime() <= q.cursorMs);
    if (inRange) {
      const e: SandboxLogEntry = { timestamp: at.toISOString(), level: 'error', message: capsule.error, fields: { status: capsule.status } };
      if (forward) entries.push(e);
      else entries.unshift(e);
    }
  }
  const min = LEVELS.indexOf(q.minLevel ?? 'debug');
  return entries.filter((e) => LEVELS.indexOf(e.level) >= min && (q.search === undefined || e.message.includes(q.search))).slice(0, q.limit);
}

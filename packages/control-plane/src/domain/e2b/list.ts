/**
 * Listing a team's E2B sandboxes (running and/or paused), filtered by metadata, template
 * and start time, in pages: newest first (or oldest with `asc`), `limit` per page, and an
 * opaque token naming where the next page starts (the last row's creation time and id).
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import { SANDBOX_COLUMNS, STATUSES_OF, splitRow, type SandboxRecord, type SandboxState } from './sandboxes.js';

export interface ListSandboxesQuery {
  states: SandboxState[];
  metadata: Record<string, string>;
  templateId?: string;
  startedAfter?: Date;
  order: 'asc' | 'desc';
  limit: number;
  nextToken?: string;
}

interface Cursor {
  createdAt: string;
  id: string;
}

/** Postgres' text form of a timestamptz (what the cursor carries). */
const TIMESTAMP_TEXT = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d{1,6})?([+-]\d{2}(:\d{2})?)?$/;

function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.createdAt, c.id])).toString('base64url');
}

function decodeCursor(token: string): Cursor {
  try {
    const [createdAt, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown[];
    if (typeof createdAt === 'string' && typeof id === 'string' && TIMESTAMP_TEXT.test(createdAt)) return { createdAt, id };
  } catch {
    // fall through
  }
  throw new WrennError('invalid_argument', 'invalid nextToken: pass the x-next-token header of the previous page unchanged');
}

/**
 * The metadata filter as the e2b SDK sends it: a query string of pairs whose keys and
 * values are each percent-encoded once more (`k%20x=v` for {"k x": "v"}).
 */
export function parseMetadataFilter(text: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!text) return out;
  for (const [k, v] of new URLSearchParams(text)) {
    try {
      out[decodeURIComponent(k)] = decodeURIComponent(v);
    } catch {
      throw new WrennError('invalid_argument', `invalid metadata filter ${JSON.stringify(text)}: key=value pairs, URL-encoded`);
    }
  }
  return out;
}

export async function listSandboxes(ctx: ControlPlaneContext, teamId: string, q: ListSandboxesQuery): Promise<{ items: SandboxRecord[]; nextToken?: string }> {
  const statuses = q.states.flatMap((s) => STATUSES_OF[s]);
  let query = ctx.db
    .selectFrom('e2b_sandboxes')
    .innerJoin('capsules', 'capsules.id', 'e2b_sandboxes.capsule_id')
    .selectAll('capsules')
    .select([
      ...SANDBOX_COLUMNS,
      // Exact (microseconds) for the cursor: a Date would round to milliseconds.
      sql<string>`capsules.created_at::text`.as('e_created_text'),
    ])
    .where('e2b_sandboxes.team_id', '=', teamId)
    .where('capsules.status', 'in', statuses);
  if (Object.keys(q.metadata).length > 0) query = query.where(sql<boolean>`capsules.metadata @> ${JSON.stringify(q.metadata)}::jsonb`);
  if (q.templateId) query = query.where('e2b_sandboxes.template_id', '=', q.templateId);
  // E2B's startedAt is the sandbox's (last) start, and a sandbox started at that very moment is included.
  if (q.startedAfter) query = query.where('e2b_sandboxes.started_at', '>=', q.startedAfter);
  if (q.nextToken) {
    const c = decodeCursor(q.nextToken);
    const cmp = q.order === 'asc' ? sql.raw('>') : sql.raw('<');
    query = query.where(sql<boolean>`(capsules.created_at, capsules.id) ${cmp} (${c.createdAt}::timestamptz, ${c.id})`);
  }
  const rows = await query
    .orderBy('capsules.created_at', q.order)
    .orderBy('capsules.id', q.order)
    .limit(q.limit + 1)
    .execute();
  const last = rows[q.limit - 1];
  const page = rows.slice(0, q.limit).map(({ e_created_text: _, ...row }) => splitRow(row));
  return {
    items: page,
    ...(rows.length > q.limit && last ? { nextToken: encodeCursor({ createdAt: last.e_created_text, id: last.id }) } : {}),
  };
}

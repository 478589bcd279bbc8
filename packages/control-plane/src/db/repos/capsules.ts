/**
 * The queries on `capsules` the domain needs, named for what they mean. The domain says
 * "move this capsule from these states to that one" or "the team's list"; the SQL (and
 * why it is shaped so) lives here.
 */
import { sql, type Kysely } from 'kysely';
import type { Capsule, CapsuleStatus, CapsuleUpdate, Database, HostStatus, NewCapsule } from '../schema.js';

type Db = Kysely<Database>;

/** The row by id (any team: callers check ownership, so another team's id reads as missing). */
export function findCapsule(db: Db, id: string): Promise<Capsule | undefined> {
  return db.selectFrom('capsules').selectAll().where('id', '=', id).executeTakeFirst();
}

/** What an agent call needs to know about a capsule's host. */
export interface CapsuleHostRow {
  id: string;
  agent_url: string | null;
  agent_token: string | null;
  status: HostStatus;
  proxy_url: string | null;
}

/** The row and its host in one read, by primary key alone (never a walk through a team's capsules). */
export async function findCapsuleWithHost(db: Db, id: string): Promise<{ capsule: Capsule; host: CapsuleHostRow | undefined } | undefined> {
  const row = await db
    .selectFrom('capsules')
    .leftJoin('hosts', 'hosts.id', 'capsules.host_id')
    .selectAll('capsules')
    .select(['hosts.id as h_id', 'hosts.agent_url as h_agent_url', 'hosts.agent_token as h_agent_token', 'hosts.status as h_status', 'hosts.proxy_url as h_proxy_url'])
    .where('capsules.id', '=', id)
    .executeTakeFirst();
  if (!row) return undefined;
  const { h_id, h_agent_url, h_agent_token, h_status, h_proxy_url, ...capsule } = row;
  return { capsule, host: h_id && h_status ? { id: h_id, agent_url: h_agent_url, agent_token: h_agent_token, status: h_status, proxy_url: h_proxy_url } : undefined };
}

/** The host a capsule runs on, as an agent call needs it. */
export function findCapsuleHost(db: Db, hostId: string): Promise<CapsuleHostRow | undefined> {
  return db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token', 'status', 'proxy_url']).where('id', '=', hostId).executeTakeFirst();
}

export async function insertCapsule(db: Db, row: NewCapsule): Promise<void> {
  await db.insertInto('capsules').values(row).execute();
}

/**
 * Moves the capsule to `to` (with `patch`) only if it is still in one of `from`: one
 * conditional UPDATE, so two racing requests or replicas cannot both win. Undefined when
 * it was not (any more) in `from`.
 */
export function moveCapsuleStatus(db: Db, id: string, from: readonly CapsuleStatus[], to: CapsuleStatus, patch: CapsuleUpdate = {}): Promise<Capsule | undefined> {
  return db
    .updateTable('capsules')
    .set({ ...patch, status: to, updated_at: sql`now()` as never })
    .where('id', '=', id)
    .where('status', 'in', [...from])
    .returningAll()
    .executeTakeFirst();
}

/** Status `error` with the reason, whatever the state was (a stopped capsule stays stopped). */
export async function markCapsuleError(db: Db, id: string, reason: string): Promise<void> {
  await db
    .updateTable('capsules')
    .set({ status: 'error', error: reason.slice(0, 2000), updated_at: sql`now()` as never })
    .where('id', '=', id)
    .where('status', '!=', 'stopped')
    .execute();
}

/** Stamps `last_activity_at` (the auto-pause timer) of these capsules with the database's now. */
export async function stampActivity(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('capsules')
    .set({ last_activity_at: sql`now()` as never })
    .where('id', 'in', [...ids])
    .execute();
}

/**
 * A team's capsules, newest first: every one not stopped, plus those stopped within
 * `stoppedVisibleHours`; only `statuses` when given; at most `limit`.
 */
export function listTeamCapsules(db: Db, teamId: string, opts: { statuses?: readonly CapsuleStatus[]; stoppedVisibleHours: number; limit: number }): Promise<Capsule[]> {
  let q = db
    .selectFrom('capsules')
    .selectAll()
    .where('team_id', '=', teamId)
    .where((eb) => eb.or([eb('status', '!=', 'stopped'), eb('stopped_at', '>=', sql<Date>`now() - interval '${sql.raw(String(Math.trunc(opts.stoppedVisibleHours)))} hours'`)]));
  if (opts.statuses?.length) q = q.where('status', 'in', [...opts.statuses]);
  return q.orderBy('created_at', 'desc').orderBy('id', 'desc').limit(opts.limit).execute();
}

/**
 * Usage accounting: CPU-minutes (vCPUs × minutes running) and RAM MB-minutes
 * (memory_mb × minutes running) per team and UTC day, in daily_usage. What is counted is
 * what a capsule holds while `running`; paused and stopped time is free.
 *
 * Each running capsule carries `usage_accounted_at`; accounting moves it to now() and adds
 * the minutes in between, in one transaction with row locks, so two workers (replicas) or
 * a worker and a destroy never count the same minutes twice.
 */
import { sql, type Kysely } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { Database } from '../../db/schema.js';

const DAY_MS = 86_400_000;

interface Accounted {
  id: string;
  team_id: string;
  vcpus: number;
  memory_mb: number;
  prev: Date | string | null;
  now: Date | string;
}

/** Splits [from, to) at UTC midnights: [day 'YYYY-MM-DD', minutes] pairs. */
export function minutesByDay(from: Date, to: Date): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  let t = from.getTime();
  const end = to.getTime();
  while (t < end) {
    const nextMidnight = Math.floor(t / DAY_MS) * DAY_MS + DAY_MS;
    const stop = Math.min(end, nextMidnight);
    out.push([new Date(t).toISOString().slice(0, 10), (stop - t) / 60_000]);
    t = stop;
  }
  return out;
}

/**
 * Counts the running time of running capsules (all, or one) up to now. Called by the
 * usage worker every tick, and before a capsule leaves `running` (destroy, pause).
 */
export async function accountUsage(db: Kysely<Database>, opts: { capsuleId?: string } = {}): Promise<number> {
  return db.transaction().execute(async (trx) => {
    const only = opts.capsuleId ? sql`and id = ${opts.capsuleId}` : sql``;
    const res = await sql<Accounted>`
      update capsules c set usage_accounted_at = now()
      from (select id, usage_accounted_at as prev from capsules where status = 'running' ${only} for update) p
      where c.id = p.id
      returning c.id, c.team_id, c.vcpus, c.memory_mb, p.prev, c.usage_accounted_at as now`.execute(trx);
    const add = new Map<string, { team_id: string; day: string; cpu: number; ram: number }>();
    for (const r of res.rows) {
      if (!r.prev) continue; // first sight of this capsule: counting starts now
      for (const [day, minutes] of minutesByDay(new Date(r.prev), new Date(r.now))) {
        const key = `${r.team_id}/${day}`;
        const cur = add.get(key) ?? { team_id: r.team_id, day, cpu: 0, ram: 0 };
        cur.cpu += Number(r.vcpus) * minutes;
        cur.ram += Number(r.memory_mb) * minutes;
        add.set(key, cur);
      }
    }
    for (const a of add.values()) {
      await trx
        .insertInto('daily_usage')
        .values({ team_id: a.team_id, day: a.day, cpu_minutes: a.cpu, ram_mb_minutes: a.ram })
        .onConflict((oc) =>
          oc.columns(['team_id', 'day']).doUpdateSet({
            cpu_minutes: sql`daily_usage.cpu_minutes + excluded.cpu_minutes`,
            ram_mb_minutes: sql`daily_usage.ram_mb_minutes + excluded.ram_mb_minutes`,
          }),
        )
        .execute();
    }
    return res.rows.length;
  });
}

export interface UsageDay {
  date: string;
  cpu_minutes: number;
  ram_mb_minutes: number;
}

const MAX_USAGE_DAYS = 366;

/** Daily usage of a team for [from, to] (UTC dates, inclusive), every day present (zeros filled in). */
export async function teamUsage(db: Kysely<Database>, teamId: string, from: string, to: string): Promise<UsageDay[]> {
  const start = Date.parse(`${from}T00:00:00Z`);
  const end = Date.parse(`${to}T00:00:00Z`);
  if (Number.isNaN(start) || Number.isNaN(end)) throw new WrennError('invalid_argument', `from and to must be dates (YYYY-MM-DD), got ${from} and ${to}`);
  if (end < start) throw new WrennError('invalid_argument', `from (${from}) is after to (${to})`);
  if ((end - start) / DAY_MS + 1 > MAX_USAGE_DAYS) throw new WrennError('invalid_argument', `ask for at most ${MAX_USAGE_DAYS} days at a time (from ${from} to ${to} is more)`);
  const rows = await db
    .selectFrom('daily_usage')
    .select([sql<string>`to_char(day, 'YYYY-MM-DD')`.as('day'), 'cpu_minutes', 'ram_mb_minutes'])
    .where('team_id', '=', teamId)
    .where('day', '>=', from)
    .where('day', '<=', to)
    .execute();
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const out: UsageDay[] = [];
  for (let t = start; t <= end; t += DAY_MS) {
    const date = new Date(t).toISOString().slice(0, 10);
    const r = byDay.get(date);
    out.push({ date, cpu_minutes: round(Number(r?.cpu_minutes ?? 0)), ram_mb_minutes: round(Number(r?.ram_mb_minutes ?? 0)) });
  }
  return out;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}

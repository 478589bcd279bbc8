/**
 * Snapshot names belong to their team: two teams may each have a snapshot called `base`.
 * A host keeps templates by one flat name, so each snapshot gets its own name on the host
 * (`host_name`, opaque), and the team's name stays in `name`. Snapshots made before keep
 * their name on the host.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('templates').addColumn('host_name', 'text').execute();
  await sql`update templates set host_name = name where kind = 'snapshot'`.execute(db);
  await sql`create unique index templates_host_name on templates (host_name) where host_name is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index if exists templates_host_name`.execute(db);
  await db.schema.alterTable('templates').dropColumn('host_name').execute();
}

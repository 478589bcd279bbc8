/**
 * Wrenn's host model: a host is `regular` (platform-wide) or `byoc` (belongs to one team,
 * runs only that team's capsules); hosts carry tags that capsules can ask for; a team may
 * bring its own hosts only once an administrator enabled BYOC for it.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('hosts')
    .addColumn('type', 'text', (c) => c.notNull().defaultTo('regular'))
    .addColumn('team_id', 'text', (c) => c.references('teams.id').onDelete('cascade'))
    .addColumn('provider', 'text')
    .addColumn('availability_zone', 'text')
    .addColumn('tags', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
  await db.schema.alterTable('teams').addColumn('byoc', 'boolean', (c) => c.notNull().defaultTo(false)).execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('teams').dropColumn('byoc').execute();
  await db.schema.alterTable('hosts').dropColumn('tags').dropColumn('availability_zone').dropColumn('provider').dropColumn('team_id').dropColumn('type').execute();
}

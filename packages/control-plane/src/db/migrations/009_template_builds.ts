/**
 * Template builds (recipes and Dockerfiles run in a build capsule): what a build runs on and
 * what it produced, the uploaded build context until the build ends, and which templates
 * came from builds (their resources, their build).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('builds')
    .addColumn('base_template', 'text', (c) => c.notNull().defaultTo('minimal'))
    .addColumn('host_id', 'text', (c) => c.references('hosts.id').onDelete('set null'))
    .addColumn('capsule_id', 'text')
    .addColumn('default_user', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('default_env', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('template_type', 'text')
    .addColumn('started_at', 'timestamptz')
    .addColumn('heartbeat_at', 'timestamptz')
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('builds_status').on('builds').columns(['status', 'created_at']).execute();
  await db.schema.createIndex('builds_team').on('builds').columns(['team_id', 'created_at']).execute();
  await db.schema
    .createTable('build_contexts')
    .addColumn('build_id', 'text', (c) => c.primaryKey().references('builds.id').onDelete('cascade'))
    .addColumn('data', 'bytea', (c) => c.notNull())
    .execute();
  await db.schema
    .alterTable('templates')
    .addColumn('vcpus', 'real')
    .addColumn('memory_mb', 'integer')
    .addColumn('build_id', 'text')
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('templates').dropColumn('vcpus').dropColumn('memory_mb').dropColumn('build_id').execute();
  await db.schema.dropTable('build_contexts').ifExists().execute();
  await db.schema.dropIndex('builds_status').ifExists().execute();
  await db.schema.dropIndex('builds_team').ifExists().execute();
  await db.schema
    .alterTable('builds')
    .dropColumn('base_template')
    .dropColumn('host_id')
    .dropColumn('capsule_id')
    .dropColumn('default_user')
    .dropColumn('default_env')
    .dropColumn('template_type')
    .dropColumn('started_at')
    .dropColumn('heartbeat_at')
    .dropColumn('updated_at')
    .execute();
}

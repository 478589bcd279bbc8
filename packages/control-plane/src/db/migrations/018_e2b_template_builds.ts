/**
 * The e2b SDK's template builder: a build is requested (POST /v3/templates) before its
 * steps are known (POST /v2/templates/{id}/builds/{buildID}), and the files its COPY steps
 * need are uploaded in between, content-addressed by the hash the SDK computes. Both are
 * kept here until the build starts (requests) or for a day (files, per team, so a rebuild
 * with unchanged files uploads nothing). A built template also remembers its WORKDIR, the
 * directory its sandboxes start in (a snapshot template keeps the base's otherwise).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('templates').addColumn('default_workdir', 'text').execute();
  await db.schema
    .createTable('e2b_template_requests')
    .addColumn('build_id', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('vcpus', 'real', (c) => c.notNull())
    .addColumn('memory_mb', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema
    .createTable('e2b_template_files')
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('hash', 'text', (c) => c.notNull())
    .addColumn('data', 'bytea', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('e2b_template_files_pk', ['team_id', 'hash'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('e2b_template_files').ifExists().execute();
  await db.schema.dropTable('e2b_template_requests').ifExists().execute();
  await db.schema.alterTable('templates').dropColumn('default_workdir').execute();
}

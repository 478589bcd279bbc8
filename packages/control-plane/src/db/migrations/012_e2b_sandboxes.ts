/**
 * E2B sandboxes: what the E2B-compatible API keeps beside a capsule. E2B's `timeout` is an
 * absolute end of life (`end_at`, moved by setTimeout and connect), after which the
 * sandbox is killed or, with `on_timeout = 'pause'`, paused; a paused sandbox has no
 * end_at until it is connected again. `secure` and `template_id` are echoed back.
 * `e2b_snapshots` remembers which sandbox a snapshot was taken from; `e2b_secrets` holds
 * team secrets, encrypted.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('e2b_sandboxes')
    .addColumn('capsule_id', 'text', (c) => c.primaryKey().references('capsules.id').onDelete('cascade'))
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('template_id', 'text', (c) => c.notNull())
    .addColumn('timeout_sec', 'integer', (c) => c.notNull())
    .addColumn('end_at', 'timestamptz')
    .addColumn('on_timeout', 'text', (c) => c.notNull().defaultTo('kill'))
    .addColumn('secure', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('allow_internet_access', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('started_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Which sandbox a snapshot made through the E2B API was taken from (list ?sandboxID=).
  await db.schema
    .createTable('e2b_snapshots')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull())
    .addColumn('sandbox_id', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  // Team secrets (values sealed: infra/secret-box.ts), injected into sandboxes that name them.
  await db.schema
    .createTable('e2b_secrets')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('value_sealed', 'text', (c) => c.notNull())
    .addColumn('metadata', 'jsonb', (c) => c.notNull().defaultTo(sql`'{}'::jsonb`))
    .addColumn('version', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('e2b_secrets_team_name', ['team_id', 'name'])
    .execute();
  await db.schema.createIndex('e2b_sandboxes_end_at').on('e2b_sandboxes').column('end_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('e2b_secrets').ifExists().execute();
  await db.schema.dropTable('e2b_snapshots').ifExists().execute();
  await db.schema.dropTable('e2b_sandboxes').ifExists().execute();
}

/**
 * E2B volumes: a team's persistent volumes, each an ext4 image on one host (`host_id`), and
 * which sandbox mounts which volume where. A volume's name is unique in its team; a
 * volume is never visible to another team. `e2b_sandbox_volumes` rows go with their
 * capsule; whether a volume is held is read from the capsule's status.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .createTable('e2b_volumes')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('host_id', 'text', (c) => c.notNull())
    .addColumn('size_mb', 'integer', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addUniqueConstraint('e2b_volumes_team_name', ['team_id', 'name'])
    .execute();
  await db.schema
    .createTable('e2b_sandbox_volumes')
    .addColumn('capsule_id', 'text', (c) => c.notNull().references('capsules.id').onDelete('cascade'))
    .addColumn('volume_id', 'text', (c) => c.notNull().references('e2b_volumes.id').onDelete('cascade'))
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('path', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('e2b_sandbox_volumes_pk', ['capsule_id', 'volume_id'])
    .execute();
  await db.schema.createIndex('e2b_sandbox_volumes_volume').on('e2b_sandbox_volumes').column('volume_id').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('e2b_sandbox_volumes').ifExists().execute();
  await db.schema.dropTable('e2b_volumes').ifExists().execute();
}

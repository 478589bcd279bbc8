/**
 * Usage accounting of capsules: `usage_accounted_at` is the instant up to which a running
 * capsule's CPU/RAM minutes are already in daily_usage, so replicas of the control plane
 * (each with its own usage worker) never count the same minutes twice.
 */
import { type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('capsules').addColumn('usage_accounted_at', 'timestamptz').execute();
  await db.schema.createIndex('metric_points_capsule_ts').on('metric_points').columns(['capsule_id', 'ts']).execute();
  await db.schema.createIndex('capsules_status').on('capsules').column('status').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropIndex('capsules_status').ifExists().execute();
  await db.schema.dropIndex('metric_points_capsule_ts').ifExists().execute();
  await db.schema.alterTable('capsules').dropColumn('usage_accounted_at').execute();
}

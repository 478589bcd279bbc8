/**
 * hosts.suspect_at: when a control plane last failed to connect to the host's agent
 * (refused, or not connected in time). Placement skips the host while suspect_at is newer
 * than its last heartbeat, so every replica stops placing capsules on a dead agent at once
 * rather than after the heartbeat window; the agent's next heartbeat clears it.
 */
import { type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('hosts').addColumn('suspect_at', 'timestamptz').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('hosts').dropColumn('suspect_at').execute();
}

/**
 * API keys follow their creator, and a team's JWTs follow the membership they were issued for:
 * - `api_keys.revoked_reason`: why a key stopped working (`revoked` by hand, `member_removed`
 *   when its creator left the team, `user_deleted`), shown to whoever looks at it later;
 * - `membership_versions`: a counter per (team, user) that outlives the membership row and
 *   is bumped when the member is removed; user JWTs carry it (`mv`), so a removed and later
 *   re-added member's old tokens stay dead.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('api_keys')
    .addColumn('revoked_reason', 'text', (c) => c.check(sql`revoked_reason in ('revoked', 'member_removed', 'user_deleted')`))
    .execute();
  await sql`update api_keys set revoked_reason = 'revoked' where revoked_at is not null`.execute(db);
  await db.schema
    .createTable('membership_versions')
    .addColumn('team_id', 'text', (c) => c.notNull().references('teams.id').onDelete('cascade'))
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('version', 'integer', (c) => c.notNull())
    .addPrimaryKeyConstraint('membership_versions_pk', ['team_id', 'user_id'])
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('membership_versions').ifExists().execute();
  await db.schema.alterTable('api_keys').dropColumn('revoked_reason').execute();
}

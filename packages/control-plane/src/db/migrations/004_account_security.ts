/**
 * Account security:
 *  - `users.session_version`: every user JWT carries the version it was issued under
 *    (claim `sv`); changing the password, logging out everywhere, an administrator
 *    disabling the account or resetting its password increment it, which ends every
 *    token issued before. A counter, not a timestamp, so no clock (replica or database)
 *    and no one-second `iat` resolution decides whether the token issued right after a
 *    password change is valid. Existing tokens have no `sv` and count as version 0.
 *  - `auth_failures`: one row per failed login or activation attempt (by email, by client
 *    address), in the database so every replica counts the same attempts; rows older than
 *    the throttling window are deleted on write (domain/accounts/throttle.ts).
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('users').addColumn('session_version', 'integer', (c) => c.notNull().defaultTo(0)).execute();
  await db.schema
    .createTable('auth_failures')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('scope', 'text', (c) => c.notNull().check(sql`scope in ('login_email', 'login_ip', 'activate_ip')`))
    .addColumn('key', 'text', (c) => c.notNull())
    .addColumn('failed_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute();
  await db.schema.createIndex('auth_failures_key').on('auth_failures').columns(['scope', 'key', 'failed_at']).execute();
  await db.schema.createIndex('auth_failures_failed_at').on('auth_failures').column('failed_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('auth_failures').ifExists().execute();
  await db.schema.alterTable('users').dropColumn('session_version').execute();
}

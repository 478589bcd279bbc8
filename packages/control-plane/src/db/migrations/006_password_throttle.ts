/**
 * `auth_failures` also counts wrong current passwords given to POST /me/password, per user
 * (scope `password_user`): whoever holds a stolen session must not be able to guess the
 * password through it, and with it take the account over (a password change ends every
 * other session, the owner's included).
 */
import { sql, type Kysely } from 'kysely';

const SCOPES_BEFORE = `'login_email', 'login_ip', 'activate_ip'`;
const SCOPES_AFTER = `'login_email', 'login_ip', 'activate_ip', 'password_user'`;

async function setScopes(db: Kysely<unknown>, scopes: string): Promise<void> {
  // Postgres names a column's inline check <table>_<column>_check (migration 004 made it so).
  await sql`alter table auth_failures drop constraint if exists auth_failures_scope_check`.execute(db);
  await sql`alter table auth_failures add constraint auth_failures_scope_check check (scope in (${sql.raw(scopes)}))`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await setScopes(db, SCOPES_AFTER);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`delete from auth_failures where scope = 'password_user'`.execute(db);
  await setScopes(db, SCOPES_BEFORE);
}

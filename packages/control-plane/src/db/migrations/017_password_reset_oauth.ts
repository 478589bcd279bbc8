/**
 * Password reset by email and OAuth/OIDC login:
 * - `user_tokens` also holds password-reset tokens (kind `password_reset`, 15 minutes);
 * - `oauth_identities`: a provider's account (provider + its stable subject id) linked to a
 *   user; one provider account belongs to at most one user, and a user has at most one
 *   account per provider;
 * - `oauth_states`: a login or link under way, between the redirect to the provider and its
 *   callback: the state's hash, the hash of the browser cookie it is bound to, the PKCE
 *   verifier and OIDC nonce, the user a link is for, and an expiry. A callback deletes its
 *   row as it reads it, so a state works once, on any replica.
 */
import { sql, type Kysely } from 'kysely';

async function setKinds(db: Kysely<unknown>, kinds: string): Promise<void> {
  // Postgres names a column's inline check <table>_<column>_check (migration 003 made it so).
  await sql`alter table user_tokens drop constraint if exists user_tokens_kind_check`.execute(db);
  await sql`alter table user_tokens add constraint user_tokens_kind_check check (kind in (${sql.raw(kinds)}))`.execute(db);
}

export async function up(db: Kysely<unknown>): Promise<void> {
  await setKinds(db, `'activation', 'password_reset'`);
  await db.schema
    .createTable('oauth_identities')
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('subject', 'text', (c) => c.notNull())
    .addColumn('user_id', 'text', (c) => c.notNull().references('users.id').onDelete('cascade'))
    .addColumn('email', 'text', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addPrimaryKeyConstraint('oauth_identities_pk', ['provider', 'subject'])
    .addUniqueConstraint('oauth_identities_user_provider', ['user_id', 'provider'])
    .execute();
  await db.schema
    .createTable('oauth_states')
    .addColumn('state_hash', 'text', (c) => c.primaryKey())
    .addColumn('browser_hash', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('code_verifier', 'text', (c) => c.notNull())
    .addColumn('nonce', 'text', (c) => c.notNull())
    .addColumn('link_user_id', 'text', (c) => c.references('users.id').onDelete('cascade'))
    .addColumn('expires_at', 'timestamptz', (c) => c.notNull())
    .execute();
  await db.schema.createIndex('oauth_states_expires').on('oauth_states').column('expires_at').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.dropTable('oauth_states').ifExists().execute();
  await db.schema.dropTable('oauth_identities').ifExists().execute();
  await sql`delete from user_tokens where kind = 'password_reset'`.execute(db);
  await setKinds(db, `'activation'`);
}

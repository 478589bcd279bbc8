/**
 * E2B sandboxes' own egress lists (`network.allowOut` / `network.denyOut`, as the caller
 * gave them: addresses, CIDRs, and in allow_out domain names). The host agent enforces
 * them and keeps them in its capsule record too; these columns are what GET answers and
 * what a network update replaces.
 */
import { sql, type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema
    .alterTable('e2b_sandboxes')
    .addColumn('allow_out', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
  await db.schema
    .alterTable('e2b_sandboxes')
    .addColumn('deny_out', 'jsonb', (c) => c.notNull().defaultTo(sql`'[]'::jsonb`))
    .execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('e2b_sandboxes').dropColumn('deny_out').execute();
  await db.schema.alterTable('e2b_sandboxes').dropColumn('allow_out').execute();
}

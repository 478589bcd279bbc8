/**
 * Where the control plane reaches a host agent's proxy listener (proxied traffic to
 * capsule ports): sent by the agent at registration and with heartbeats, or learnt from
 * its Health answer when it did not send one.
 */
import { type Kysely } from 'kysely';

export async function up(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('hosts').addColumn('proxy_url', 'text').execute();
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await db.schema.alterTable('hosts').dropColumn('proxy_url').execute();
}

/**
 * The infrastructure half of the context: configuration, logging, the database, tokens,
 * agent clients and placement. None of these modules imports the context, so a module
 * whose own class is a context member (the audit queue, activity, throttling, key use,
 * principals) types its dependencies with `ContextBase` plus its own member, and
 * context.ts ↔ that module is not an import circle.
 */
import type { Kysely } from 'kysely';
import type { Logger } from '@wrenn/shared';
import type { Database } from './db/schema.js';
import type { AgentPool } from './infra/agent-pool.js';
import type { JwtIssuer } from './infra/secrets.js';
import type { ControlPlaneConfig } from './start/config.js';
import type { Scheduler } from './domain/scheduler.js';

export interface ContextBase {
  readonly config: ControlPlaneConfig;
  readonly logger: Logger;
  readonly db: Kysely<Database>;
  readonly dbKind: 'postgres' | 'pglite';
  readonly jwt: JwtIssuer;
  readonly agents: AgentPool;
  readonly scheduler: Scheduler;
}

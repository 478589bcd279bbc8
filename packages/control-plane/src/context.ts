/** Everything route plugins, workers and extensions need, built once by createControlPlane. */
import type { Kysely } from 'kysely';
import type { Logger } from '@wrenn/shared';
import type { Database } from './db/schema.js';
import type { AgentPool } from './infra/agent-pool.js';
import type { JwtIssuer } from './infra/secrets.js';
import type { ControlPlaneConfig } from './start/config.js';
import type { Scheduler } from './domain/scheduler.js';
import type { Principal } from './http/plugins/auth.js';
import type { PrincipalCache } from './infra/principal-cache.js';

export interface ControlPlaneContext {
  readonly config: ControlPlaneConfig;
  readonly logger: Logger;
  readonly db: Kysely<Database>;
  readonly dbKind: 'postgres' | 'pglite';
  readonly jwt: JwtIssuer;
  readonly agents: AgentPool;
  readonly scheduler: Scheduler;
  /**
   * Recently authenticated credentials (see infra/principal-cache.ts). Code that revokes a
   * key, changes a membership or disables/deletes a user calls `principals.clear()`; code
   * that ends one user's sessions, `forgetCachedSessions` (domain/accounts/sessions.ts).
   */
  readonly principals: PrincipalCache<Principal>;
}

/** A background job of the control plane (reconciler, host liveness, rollups): started after listen, stopped on close. */
export interface Worker {
  readonly name: string;
  start(ctx: ControlPlaneContext): void;
  stop(): Promise<void> | void;
}

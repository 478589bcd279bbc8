/** Everything route plugins, workers and extensions need, built once by createControlPlane. */
import type { ContextBase } from './context-base.js';
import type { Principal } from './domain/accounts/principal-type.js';
import type { PrincipalCache } from './infra/principal-cache.js';
import type { CapsuleActivity } from './domain/capsules/activity.js';
import type { AuditQueue } from './domain/audit.js';
import type { PtySessionRegistry } from './ws/pty-registry.js';
import type { ResumesInFlight } from './domain/capsules/resumes-in-flight.js';
import type { UsableCapsuleMemo } from './domain/capsules/usable-memo.js';
import type { BuildsInFlight } from './domain/builds/in-flight.js';
import type { HostStartQueues } from './domain/hosts/start-queues.js';
import type { SecretBox } from './infra/secret-box.js';
import type { Mailer } from './infra/mailer.js';
import type { OAuthProvider } from './infra/oauth/provider.js';
import type { KeyUseWrites } from './domain/accounts/key-use.js';
import type { ThrottlePruning } from './domain/accounts/throttle.js';

export type { ContextBase } from './context-base.js';

/**
 * The infrastructure (ContextBase) and what this process holds. Modules whose classes are
 * members here type their own dependencies with ContextBase (see context-base.ts).
 */
export interface ControlPlaneContext extends ContextBase {
  /**
   * Recently authenticated credentials (see infra/principal-cache.ts). Code that revokes a
   * key, changes a membership or disables/deletes a user calls `principals.clear()`; code
   * that ends one user's sessions, `forgetCachedSessions` (domain/accounts/sessions.ts).
   */
  readonly principals: PrincipalCache<Principal>;

  // What this process holds in memory, beyond the database: each member has its own
  // close(), and closeProcessState (app.ts) closes them all, in one place. This is the list
  // of what must move to PostgreSQL (or be made safe to lose) for several replicas: see
  // docs/architecture.md#where-state-lives.

  /** Capsule activity noted and not yet written; capsules held by long operations. */
  readonly activity: CapsuleActivity;
  /** Audit entries queued and not yet written. */
  readonly audit: AuditQueue;
  /** Terminal sessions of this process, by capsule and tag. */
  readonly ptys: PtySessionRegistry;
  /** Auto-resumes under way here, shared by the callers that wait for them. */
  readonly resumes: ResumesInFlight;
  /** Capsules recently found usable (with the generation that invalidates them). */
  readonly usable: UsableCapsuleMemo;
  /** Each host's start queue as its last heartbeat reported it (the wrenn_host_start_queue gauge). */
  readonly startQueues: HostStartQueues;
  /** When each API key's use was last written. */
  readonly keyUse: KeyUseWrites;
  /** When stale login-failure rows were last pruned. */
  readonly throttle: ThrottlePruning;
  /**
   * Template builds running here (their step in flight, cancel handles). Started and stopped
   * by the builds worker: stopping fails the builds in flight with the reason.
   */
  readonly builds: BuildsInFlight;

  /** Outgoing mail (WRENN_SMTP_*), or the log when there is none; close() waits for sends under way. */
  readonly mailer: Mailer;
  /** Enabled login providers by name (WRENN_OAUTH_GITHUB_*, WRENN_OIDC_*); each caches only its issuer's discovery document. */
  readonly oauth: ReadonlyMap<string, OAuthProvider>;

  /** Seals and opens E2B team secrets (AES-256-GCM, key derived from the JWT secret); holds no state. */
  readonly secretBox: SecretBox;
}

/** A background job of the control plane (reconciler, host liveness, rollups): started after listen, stopped on close. */
export interface Worker {
  readonly name: string;
  start(ctx: ControlPlaneContext): void;
  stop(): Promise<void> | void;
}

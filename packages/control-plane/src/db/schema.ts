/** Row types of the control plane's tables (kept in step with ./migrations). */
import type { ColumnType, Generated, Insertable, Selectable, Updateable } from 'kysely';

import type { Json, NullableTimestamp, Timestamp } from './column-types.js';
import type { E2bSandboxesTable, E2bSandboxVolumesTable, E2bSecretsTable, E2bSnapshotsTable, E2bTemplateFilesTable, E2bTemplateRequestsTable, E2bVolumesTable } from './schema-e2b.js';

export type * from './schema-e2b.js';

export type Role = 'owner' | 'admin' | 'member';
export type HostStatus = 'pending' | 'up' | 'down' | 'draining';
export type CapsuleStatus = 'pending' | 'starting' | 'running' | 'pausing' | 'paused' | 'resuming' | 'stopping' | 'stopped' | 'error' | 'missing';

export interface TeamsTable {
  id: string;
  name: string;
  created_at: Timestamp;
  /** May bring its own hosts (migration 008). */
  byoc: Generated<boolean>;
}

export interface UsersTable {
  id: string;
  email: string;
  name: string;
  password_hash: string;
  is_admin: Generated<boolean>;
  active: Generated<boolean>;
  default_team_id: string | null;
  created_at: Timestamp;
  /** User JWTs carry the version they were issued under (`sv`); incrementing it ends them all (migration 004). */
  session_version: Generated<number>;
}

export interface MembershipsTable {
  team_id: string;
  user_id: string;
  role: Role;
  created_at: Timestamp;
}

export interface ApiKeysTable {
  id: string;
  team_id: string;
  created_by: string | null;
  name: string;
  /** SHA-256 hex of the whole key; the key itself is shown once and never stored. */
  key_hash: string;
  /** First characters of the key, for recognising it in lists. */
  key_prefix: string;
  created_at: Timestamp;
  last_used_at: NullableTimestamp;
  revoked_at: NullableTimestamp;
  /** Why the key stopped working: revoked by hand, its creator left the team, or was deleted. */
  revoked_reason: 'revoked' | 'member_removed' | 'user_deleted' | null;
}

/** Bumped when a member is removed; outlives the membership (user JWTs carry it as `mv`). */
export interface MembershipVersionsTable {
  team_id: string;
  user_id: string;
  version: number;
}

export interface UserTokensTable {
  id: string;
  user_id: string;
  kind: 'activation' | 'password_reset';
  token_hash: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

/** A provider account linked to a user (migration 018). */
export interface OAuthIdentitiesTable {
  provider: string;
  subject: string;
  user_id: string;
  email: string;
  created_at: Generated<Date>;
}

/** A login or link between the redirect to the provider and its callback (migration 018). */
export interface OAuthStatesTable {
  state_hash: string;
  browser_hash: string;
  provider: string;
  code_verifier: string;
  nonce: string;
  link_user_id: string | null;
  expires_at: Date;
}

/** One failed login or activation attempt, by what it is counted against (migration 004). */
export interface AuthFailuresTable {
  id: string;
  scope: 'login_email' | 'login_ip' | 'activate_ip' | 'password_user';
  /** The normalised email, or the client address (an IPv6 client's /64). */
  key: string;
  failed_at: Timestamp;
}

export interface HostsTable {
  id: string;
  name: string;
  /** Base URL of the host agent's RPC server (http://ip:port). */
  agent_url: string | null;
  /** Bearer token the control plane presents to the agent. */
  agent_token: string | null;
  /** Base URL of the agent's proxy listener (http://ip:port), for proxied capsule traffic (migration 004). */
  proxy_url: string | null;
  status: HostStatus;
  vcpus_total: Generated<number>;
  memory_total_bytes: Generated<string>;
  memory_free_bytes: Generated<string>;
  disk_free_bytes: Generated<string>;
  capsules: Generated<number>;
  version: string | null;
  last_heartbeat_at: NullableTimestamp;
  /** When a control plane last failed to connect to the agent; placement skips the host until a later heartbeat (migration 013). */
  suspect_at: NullableTimestamp;
  created_by: string | null;
  created_at: Timestamp;
  /** `byoc` hosts belong to `team_id` and run only its capsules (migration 008). */
  type: Generated<HostType>;
  team_id: string | null;
  provider: string | null;
  availability_zone: string | null;
  /** Labels capsules can require for placement. */
  tags: ColumnType<string[], string | undefined, string>;
}

export type HostType = 'regular' | 'byoc';

export interface HostTokensTable {
  id: string;
  host_id: string;
  kind: 'registration' | 'refresh';
  token_hash: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: Timestamp;
}

export interface TemplatesTable {
  name: string;
  /** Null for platform templates every team sees. */
  team_id: string | null;
  kind: 'base' | 'snapshot';
  /** Snapshot templates live on one host. */
  host_id: string | null;
  /** A snapshot's name on its host (opaque, unique across teams); null for base templates. */
  host_name: string | null;
  size_bytes: Generated<string>;
  default_user: string | null;
  default_env: Json<Record<string, string>>;
  created_at: Timestamp;
  /** Resources of templates made by builds (migration 009). */
  vcpus: number | null;
  memory_mb: number | null;
  /** The WORKDIR a build left (migration 018); capsules from the template start there. */
  default_workdir?: string | null;
  build_id: string | null;
}

export interface CapsulesTable {
  id: string;
  team_id: string;
  host_id: string | null;
  template: string;
  status: CapsuleStatus;
  vcpus: number;
  memory_mb: number;
  disk_size_mb: number;
  timeout_sec: number;
  auto_resume: Generated<boolean>;
  metadata: Json<Record<string, string>>;
  address: string | null;
  envd_token: string | null;
  error: string | null;
  created_by_user: string | null;
  created_by_key: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_activity_at: Timestamp;
  stopped_at: NullableTimestamp;
  /** Up to when this capsule's running time is counted in daily_usage (migration 002). */
  usage_accounted_at: NullableTimestamp;
}

export type BuildStatus = 'pending' | 'running' | 'success' | 'failed' | 'cancelled';

/** A template build (migrations 001, 009). `team_id` null: an administrator's build of a platform template. */
export interface BuildsTable {
  id: string;
  team_id: string | null;
  name: string;
  status: BuildStatus;
  /** The request: recipe lines, healthcheck, vcpus, memory_mb, skip_pre_post. */
  spec: Json<unknown>;
  current_step: Generated<number>;
  total_steps: Generated<number>;
  logs: Json<unknown[]>;
  error: string | null;
  created_by: string | null;
  created_at: Timestamp;
  finished_at: NullableTimestamp;
  base_template: Generated<string>;
  host_id: string | null;
  /** The build capsule on host_id while the build runs. */
  capsule_id: string | null;
  default_user: Generated<string>;
  default_env: Json<Record<string, string>>;
  /** What the build produced: `base` (flattened) or `snapshot` (with memory). */
  template_type: 'base' | 'snapshot' | null;
  started_at: NullableTimestamp;
  /** Written by the control plane running the build; a stale one means that runner died. */
  heartbeat_at: NullableTimestamp;
  updated_at: Timestamp;
}

/** The uploaded context archive of a build, until the build ends (migration 009). */
export interface BuildContextsTable {
  build_id: string;
  data: Buffer;
}

export interface AuditLogsTable {
  id: string;
  team_id: string | null;
  actor_user_id: string | null;
  actor_key_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  result: 'ok' | 'error';
  status_code: number;
  detail: Json<Record<string, unknown>>;
  request_id: string | null;
  created_at: Timestamp;
}

export interface MetricPointsTable {
  capsule_id: string;
  team_id: string;
  ts: Timestamp;
  cpu_pct: number;
  mem_used_bytes: string;
  mem_total_bytes: string;
  disk_used_bytes: string;
  disk_total_bytes: string;
}

export interface DailyUsageTable {
  team_id: string;
  day: string;
  cpu_minutes: number;
  ram_mb_minutes: number;
}

/** A team's notification channel (migration 019); `config_sealed` is the provider config, sealed. */
export interface NotificationChannelsTable {
  id: string;
  team_id: string;
  name: string;
  provider: string;
  config_sealed: string;
  events: Json<string[]>;
  created_at: Timestamp;
  updated_at: Timestamp;
  last_delivery_at: NullableTimestamp;
  last_error: string | null;
  last_error_at: NullableTimestamp;
  failure_count: Generated<number>;
}

/** One event to deliver to one channel (migration 019). */
export interface NotificationOutboxTable {
  id: string;
  seq: ColumnType<string, never, never>;
  channel_id: string;
  team_id: string;
  event: string;
  payload: Json<Record<string, unknown>>;
  attempts: Generated<number>;
  next_attempt_at: Timestamp;
  claimed_until: NullableTimestamp;
  delivered_at: NullableTimestamp;
  failed_at: NullableTimestamp;
  last_error: string | null;
  created_at: Timestamp;
}

export interface Database {
  teams: TeamsTable;
  users: UsersTable;
  memberships: MembershipsTable;
  api_keys: ApiKeysTable;
  membership_versions: MembershipVersionsTable;
  user_tokens: UserTokensTable;
  oauth_identities: OAuthIdentitiesTable;
  oauth_states: OAuthStatesTable;
  auth_failures: AuthFailuresTable;
  hosts: HostsTable;
  host_tokens: HostTokensTable;
  templates: TemplatesTable;
  capsules: CapsulesTable;
  builds: BuildsTable;
  build_contexts: BuildContextsTable;
  audit_logs: AuditLogsTable;
  metric_points: MetricPointsTable;
  daily_usage: DailyUsageTable;
  e2b_sandboxes: E2bSandboxesTable;
  e2b_snapshots: E2bSnapshotsTable;
  e2b_secrets: E2bSecretsTable;
  e2b_volumes: E2bVolumesTable;
  e2b_sandbox_volumes: E2bSandboxVolumesTable;
  e2b_template_requests: E2bTemplateRequestsTable;
  e2b_template_files: E2bTemplateFilesTable;
  notification_channels: NotificationChannelsTable;
  notification_outbox: NotificationOutboxTable;
}

export type Team = Selectable<TeamsTable>;
export type User = Selectable<UsersTable>;
export type ApiKey = Selectable<ApiKeysTable>;
export type Host = Selectable<HostsTable>;
export type HostUpdate = Updateable<HostsTable>;
export type Capsule = Selectable<CapsulesTable>;
export type NewCapsule = Insertable<CapsulesTable>;
export type CapsuleUpdate = Updateable<CapsulesTable>;
export type AuditLog = Selectable<AuditLogsTable>;
export type Build = Selectable<BuildsTable>;
export type E2bSandbox = Selectable<E2bSandboxesTable>;

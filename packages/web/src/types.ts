/** The API's shapes, as the dashboard uses them (see /openapi.json). */
export type Role = 'owner' | 'admin' | 'member';

export interface User {
  id: string;
  email: string;
  name: string;
  is_admin: boolean;
  active: boolean;
  created_at: string;
}

export interface Team {
  id: string;
  name: string;
  created_at: string;
  role: Role;
}

export interface Session {
  token: string;
  user: User;
  team: Team;
}

export type CapsuleStatus = 'pending' | 'starting' | 'running' | 'pausing' | 'paused' | 'resuming' | 'stopping' | 'stopped' | 'error' | 'missing';

export interface Capsule {
  id: string;
  status: CapsuleStatus;
  template: string;
  vcpus: number;
  memory_mb: number;
  disk_size_mb: number;
  timeout_sec: number;
  auto_resume: boolean;
  host_id: string | null;
  address: string | null;
  metadata: Record<string, string>;
  error: string | null;
  created_at: string;
  updated_at: string;
  last_activity_at: string;
  stopped_at: string | null;
}

export interface FileEntry {
  name: string;
  path: string;
  type: string;
  size: number;
  mode: number;
  owner: string;
  /** Unix seconds (Wrenn's contract); an ISO string from earlier servers. */
  modified_at: number | string | null;
}

export interface MetricPoint {
  ts: string;
  cpu_pct: number;
  mem_used_bytes: number;
  mem_total_bytes: number;
  disk_used_bytes: number;
  disk_total_bytes: number;
}

export interface ProcessInfo {
  pid: number;
  tag: string | null;
  cmd: string;
  args: string[];
}

export interface ApiKey {
  id: string;
  name: string;
  key_prefix: string;
  created_by: string | null;
  created_at: string;
  last_used_at: string | null;
  /** `suspended` while its creator is disabled. */
  status?: 'active' | 'suspended';
}

export interface Member {
  user_id: string;
  email: string;
  name: string;
  role: Role;
  joined_at: string;
}

export interface Host {
  id: string;
  name: string;
  status: 'pending' | 'online' | 'offline' | 'up' | 'down' | 'draining';
  agent_url: string | null;
  version: string | null;
  vcpus_total: number;
  memory_total_bytes: number;
  memory_free_bytes: number;
  disk_free_bytes: number;
  capsules: number;
  last_heartbeat_at: string | null;
  created_at: string;
  type?: 'regular' | 'byoc';
  team_id?: string | null;
  tags?: string[];
}

export interface AuditEntry {
  id: string;
  team_id: string | null;
  actor_user_id: string | null;
  actor_key_id: string | null;
  action: string;
  target_type: string | null;
  target_id: string | null;
  result: 'ok' | 'error';
  status_code: number;
  detail: Record<string, unknown>;
  request_id: string | null;
  created_at: string;
}

export interface Template {
  name: string;
  type: 'base' | 'snapshot';
  capsule_id: string | null;
  host_id: string | null;
  size_bytes: number;
  memory_bytes: number;
  base_template: string | null;
  default_user: string | null;
  created_at: string;
}

export type BuildStatus = 'pending' | 'running' | 'success' | 'failed' | 'cancelled';

/** One step of a build: its command, output (capped, the end kept), exit and duration. */
export interface BuildLogEntry {
  step: number;
  phase: string;
  cmd: string;
  stdout: string;
  stderr: string;
  exit: number;
  ok: boolean;
  elapsed_ms: number;
  running?: boolean;
  timed_out?: boolean;
  truncated?: boolean;
  error?: string;
}

export interface Build {
  id: string;
  name: string;
  base_template: string;
  recipe: string[];
  status: BuildStatus;
  current_step: number;
  total_steps: number;
  logs: BuildLogEntry[];
  error?: string;
  default_user: string;
  template_type?: 'base' | 'snapshot';
  created_at: string;
  started_at?: string;
  completed_at?: string;
}

/** A template the team can start capsules from (GET /templates). */
export interface TemplateListing {
  name: string;
  type: 'base' | 'snapshot';
  size_bytes: number;
  team_id: string | null;
  build_id: string | null;
  default_user: string | null;
  created_at: string;
}

export interface UsageDay {
  date: string;
  cpu_minutes: number;
  ram_mb_minutes: number;
}

export interface AdminTeam {
  id: string;
  name: string;
  slug: string;
  is_byoc: boolean;
  member_count: number;
  created_at: string;
}

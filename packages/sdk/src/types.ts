/** Shapes of the API's resources as the SDK returns them (camelCase of the wire's snake_case). */

export type CapsuleStatus = 'pending' | 'starting' | 'running' | 'pausing' | 'paused' | 'resuming' | 'stopping' | 'stopped' | 'error' | 'missing';

export interface Capsule {
  id: string;
  status: CapsuleStatus;
  template: string;
  vcpus: number;
  memoryMb: number;
  diskSizeMb?: number;
  /** Auto-pause after this many idle seconds; 0 = never. */
  timeoutSec: number;
  hostId?: string | null;
  metadata?: Record<string, string>;
  error?: string | null;
  autoResume?: boolean;
  address?: string | null;
  /** ISO-8601 with a timezone. */
  createdAt: string;
  updatedAt?: string;
  lastActivityAt?: string;
  stoppedAt?: string | null;
  [field: string]: unknown;
}

export interface CreateCapsuleOptions {
  /** Default `minimal`. */
  template?: string;
  vcpus?: number;
  memoryMb?: number;
  /** Auto-pause after this many idle seconds; 0 (default) = never. */
  timeoutSec?: number;
  diskSizeMb?: number;
  metadata?: Record<string, string>;
  envs?: Record<string, string>;
  /** When paused, resume on the next exec/file/process call instead of failing with 409. */
  autoResume?: boolean;
}

export interface ExecOptions {
  cmd: string;
  args?: string[];
  /** Server-side limit of the command (default 30 s). */
  timeoutSec?: number;
  envs?: Record<string, string>;
  cwd?: string;
}

export interface ExecResult {
  /** Output as UTF-8 text (binary output decoded lossily; see stdoutBytes). */
  stdout: string;
  stderr: string;
  stdoutBytes: Uint8Array;
  stderrBytes: Uint8Array;
  /** -1 when the command ran past its timeout and was killed (then timedOut is true). */
  exitCode: number;
  durationMs: number;
  timedOut: boolean;
}

export interface BackgroundProcessOptions extends Omit<ExecOptions, 'timeoutSec'> {
  /** Name to find the process by later; default `proc-` + 8 hex. */
  tag?: string;
}

export interface BackgroundProcess {
  pid: number;
  tag: string;
}

export interface ProcessInfo {
  pid: number;
  tag: string | null;
  cmd: string;
  args: string[];
}

export interface FileEntry {
  name: string;
  path: string;
  type: 'file' | 'directory' | 'symlink' | string;
  size: number;
  mode?: number;
  /** As ls shows them, e.g. `-rw-r--r--`. */
  permissions?: string;
  owner?: string;
  group?: string;
  /** Unix seconds (0 when unknown). */
  modified_at?: number;
  symlink_target?: string | null;
  [field: string]: unknown;
}

export type MetricsRange = '5m' | '10m' | '2h' | '24h';

export interface MetricPoint {
  /** ISO-8601. */
  ts: string;
  /** 100 = one core busy. */
  cpuPct: number;
  memUsedBytes: number;
  memTotalBytes: number;
  diskUsedBytes: number;
  diskTotalBytes: number;
}

export type StatsRange = '5m' | '1h' | '6h' | '24h' | '30d';

export interface TeamStats {
  range: string;
  /** Capsules by state now (stopped: within the range). */
  counts: Record<CapsuleStatus, number>;
  running: { capsules: number; vcpus: number; memoryMb: number };
  current: { runningCount: number; vcpusReserved: number; memoryMbReserved: number; sampledAt: string | null };
  peaks: { runningCount: number; vcpus: number; memoryMb: number };
  /** Parallel arrays, one entry per interval. */
  series: { labels: string[]; running: number[]; vcpus: number[]; memoryMb: number[] };
  points: Array<{ ts: string; capsules: number; vcpus: number; memoryMb: number; cpuPct: number; memUsedBytes: number }>;
}

export interface TeamUsage {
  from: string;
  to: string;
  points: Array<{ date: string; cpuMinutes: number; ramMbMinutes: number }>;
  days: Array<{ date: string; cpuMinutes: number; ramMbMinutes: number }>;
}

export interface User {
  id: string;
  email: string;
  name: string;
  isAdmin: boolean;
  [field: string]: unknown;
}

export interface Team {
  id: string;
  name: string;
  /** The caller's role in the team. */
  role: 'owner' | 'admin' | 'member';
  [field: string]: unknown;
}

export interface AuthResult {
  /** A user JWT (6 h): `new Wrenn({ baseUrl, token })`. */
  token: string;
  user: User;
  team: Team;
}

export interface ApiKeyInfo {
  id: string;
  name: string;
  /** First characters of the key, to recognise it. */
  keyPrefix: string;
  createdAt: string;
  lastUsedAt: string | null;
  [field: string]: unknown;
}

export interface CreatedApiKey extends ApiKeyInfo {
  /** The key itself (`wrn_...`), shown only here. */
  key: string;
}

export interface Host {
  id: string;
  name: string;
  /** `online`/`offline` (servers before Wrenn's contract said `up`/`down`). */
  status: 'pending' | 'online' | 'offline' | 'draining' | 'unreachable' | 'up' | 'down';
  type?: 'regular' | 'byoc';
  tags?: string[];
  agentUrl: string | null;
  [field: string]: unknown;
}

export interface CreatedHost {
  host: Host;
  /** One-time token for `wrenn-agent --register` (valid 24 h, shown only here). */
  registrationToken: string;
}

export interface Template {
  name: string;
  type?: 'base' | 'snapshot' | string;
  sizeBytes?: number;
  [field: string]: unknown;
}

/** One step of a template build (its output is capped; the end is kept). */
export interface BuildLogEntry {
  step: number;
  phase: string;
  cmd: string;
  stdout: string;
  stderr: string;
  /** -1 while running or when stopped (timeout, cancel). */
  exit: number;
  ok: boolean;
  elapsedMs: number;
  running?: boolean;
  timedOut?: boolean;
  truncated?: boolean;
}

export interface Build {
  id: string;
  name: string;
  teamId: string | null;
  baseTemplate: string;
  recipe: string[];
  healthcheck?: string;
  vcpus: number;
  memoryMb: number;
  status: 'pending' | 'running' | 'success' | 'failed' | 'cancelled';
  currentStep: number;
  totalSteps: number;
  logs: BuildLogEntry[];
  error?: string;
  sandboxId?: string;
  hostId?: string;
  defaultUser: string;
  defaultEnv: Record<string, string>;
  templateType?: 'base' | 'snapshot';
  createdAt: string;
  startedAt?: string;
  completedAt?: string;
}

export interface BuildTemplate {
  name: string;
  type: 'base' | 'snapshot';
  vcpus: number;
  memoryMb: number;
  sizeBytes: number;
  teamId: string | null;
  hostId: string | null;
  buildId: string | null;
  defaultUser: string | null;
  defaultEnv: Record<string, string>;
  createdAt: string;
}

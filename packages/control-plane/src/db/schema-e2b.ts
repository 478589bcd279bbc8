/** Row types of the E2B-compatible API's tables (kept in step with ./migrations); part of schema.ts's Database. */
import type { ColumnType, Generated } from 'kysely';
import type { Timestamp, NullableTimestamp, Json } from './column-types.js';

/** What the E2B-compatible API keeps beside a capsule (migration 009). */
export interface E2bSandboxesTable {
  capsule_id: string;
  team_id: string;
  /** The templateID the caller named (an alias such as `base`, or a template name). */
  template_id: string;
  /** E2B's `timeout`: the lifetime granted by create, setTimeout and connect. */
  timeout_sec: number;
  /** End of life while running; null while paused. */
  end_at: NullableTimestamp;
  on_timeout: 'kill' | 'pause';
  secure: Generated<boolean>;
  allow_internet_access: Generated<boolean>;
  /** network.allowOut as given (addresses, CIDRs, domain names) (migration 014). */
  allow_out: ColumnType<string[], string | undefined, string>;
  /** network.denyOut as given (addresses, CIDRs). */
  deny_out: ColumnType<string[], string | undefined, string>;
  /** Start of the current run (create or the last resume). */
  started_at: Timestamp;
}

/** Snapshots taken through the E2B API and the sandbox each was taken from (migration 009). */
export interface E2bSnapshotsTable {
  name: string;
  team_id: string;
  sandbox_id: string;
  created_at: Timestamp;
}

/** Team secrets of the E2B API; the value is sealed (infra/secret-box.ts) (migration 009). */
export interface E2bSecretsTable {
  id: string;
  team_id: string;
  name: string;
  value_sealed: string;
  metadata: Json<Record<string, string>>;
  version: Generated<number>;
  created_at: Timestamp;
  updated_at: Timestamp;
}

/** A team's E2B volume: an ext4 image on one host (migration 016). */
export interface E2bVolumesTable {
  id: string;
  team_id: string;
  name: string;
  host_id: string;
  size_mb: number;
  created_at: Timestamp;
}

/** Which sandbox mounts which volume, where (migration 016). */
export interface E2bSandboxVolumesTable {
  capsule_id: string;
  volume_id: string;
  name: string;
  path: string;
}

/** A build requested through the e2b SDK, until its steps arrive (migration 018). */
export interface E2bTemplateRequestsTable {
  build_id: string;
  team_id: string;
  name: string;
  vcpus: number;
  memory_mb: number;
  created_at: Generated<Date>;
}

/** Files a team uploaded for COPY steps, by the SDK's content hash (migration 018). */
export interface E2bTemplateFilesTable {
  team_id: string;
  hash: string;
  data: Buffer;
  created_at: Generated<Date>;
}

/**
 * A capsule as the host agent persists it (`<dataDir>/capsules/<runtimeId>/state.json`)
 * and the status machine it moves through. The record is written before any resource is
 * created, so a restarted agent always knows what to find again or clean up.
 */
import { WrennError } from '@wrenn/shared';

/** memory: processes, memory and connections kept (CRIU); filesystem: only the disk kept. */
export type PauseKind = 'memory' | 'filesystem';

export type CapsuleStatus = 'warm' | 'starting' | 'running' | 'snapshotting' | 'pausing' | 'paused' | 'resuming' | 'stopping' | 'error';

/**
 * Every move a capsule may make. A new capsule is born `starting`; `stopping` is reachable
 * from everywhere (destroy, cleanup of a dead capsule); `error` keeps the record until Destroy.
 */
export const STATUS_MOVES: Readonly<Record<CapsuleStatus, readonly CapsuleStatus[]>> = {
  // A warm capsule is claimed (back through starting, while /init re-runs) or destroyed.
  warm: ['starting', 'stopping'],
  starting: ['running', 'warm', 'stopping'],
  // error: its envd died and could not be started again (lifecycle/restart.ts).
  running: ['snapshotting', 'pausing', 'stopping', 'error'],
  // The snapshot ends, or the capsule is revived (running) or cannot be (error).
  snapshotting: ['running', 'error', 'stopping'],
  pausing: ['paused', 'running', 'error', 'stopping'],
  // paused → paused: recovery settles what an interrupted pause or resume kept.
  paused: ['resuming', 'paused', 'stopping'],
  resuming: ['running', 'paused', 'error', 'stopping'],
  stopping: ['error', 'stopping'],
  error: ['stopping'],
};

export interface CapsuleRecord {
  /** Capsule id given by the caller (warm capsules: their runtime id until claimed). */
  id: string;
  /** Runtime container id and directory name; fixed for the capsule's life (differs from id for warm-pool capsules). */
  runtimeId: string;
  /** Changed only through CapsuleRegistry.transition (readonly here so nothing else compiles). */
  readonly status: CapsuleStatus;
  /** The template it was created from: a base template, or a snapshot template (see baseTemplate). */
  template: string;
  /**
   * The base template whose layer is under the capsule's disk, when `template` is a
   * snapshot template (which may be deleted while the capsule lives on).
   */
  baseTemplate?: string;
  vcpus: number;
  memoryMb: number;
  diskSizeBytes: number;
  netSlot: number;
  address: string;
  envdAccessToken: string;
  createdAtMs: number;
  /** 0 = no lifetime limit. */
  expiresAtMs: number;
  metadata: Record<string, string>;
  envs: Record<string, string>;
  defaultUser: string;
  workdir?: string;
  egress: boolean;
  /**
   * The capsule's own egress lists as set (Create or SetEgress; allowOut may hold domain
   * names, see infra/net/egress-domains.ts); absent = none.
   */
  egressRules?: { denyOut: string[]; allowOut: string[] };
  /** The addresses (/32) the names in egressRules.allowOut resolved to, as last applied. */
  egressResolved?: string[];
  fromWarmPool: boolean;
  /** True while the capsule sits in (or is being started for) the warm pool: invisible to callers. */
  warm?: boolean;
  error?: string;
  /**
   * Times envd died and the agent started the capsule again on the same disk (its
   * processes were lost), with the reason and time of the last one (lifecycle/restart.ts).
   */
  restarts?: number;
  lastRestart?: { atMs: number; reason: string };
  /** What the last pause kept: memory (CRIU snapshot) or only the disk. Set while paused. */
  pauseKind?: PauseKind;
  pausedAtMs?: number;
  /** Pause after this many seconds without activity; 0/absent = never. */
  autoPauseSec?: number;
  /** Volumes of this host bind-mounted into the capsule (held by it until it is destroyed). */
  volumes?: VolumeMountSpec[];
}

export interface VolumeMountSpec {
  volumeId: string;
  /** Absolute path inside the capsule. */
  path: string;
}

/** Operations that need a running capsule refuse every other state with a clear 409. */
export function assertRunning(record: CapsuleRecord, operation: string): void {
  if (record.status !== 'running') throw busy(record, operation);
}

/** capsule_busy naming the state the capsule is in (and why, when it is error). */
export function busy(record: CapsuleRecord, operation: string): WrennError {
  return new WrennError(
    'capsule_busy',
    `cannot ${operation} capsule ${record.id}: it is ${record.status}${record.error ? ` (${record.error})` : ''}`,
    { capsuleId: record.id, status: record.status },
  );
}

/** Capsule ids become runc container ids and directory names: keep them to a safe alphabet. */
export function validateCapsuleId(id: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(id)) {
    throw new WrennError('invalid_argument', `capsule id ${JSON.stringify(id)} must be 1-63 characters of letters, digits, '_', '.', '-'`);
  }
}

/**
 * The objects every capsule operation (create, destroy, recover, pause, resume, snapshot)
 * works with: the registry, the ports and the settings. Built once by CapsuleManager and
 * handed to each operation as it is; operations call objects, never callbacks into the manager.
 */
import { cidrsOf } from '../../infra/net/egress-domains.js';
import { join } from 'node:path';
import { WrennError, type Logger } from '@wrenn/shared';
import type { CapsuleRecord } from '../capsule-record.js';
import type { CapsuleWatchers } from '../capsule-watchers.js';
import type {
  EnvdConnector,
  EnvdLaunch,
  HostFacts,
  NetworkPort,
  PlumbOptions,
  ProxiedConnectionsPort,
  RootfsPort,
  Runtime,
  SandboxSpec,
  SnapshotDiskPort,
  TemplatePort,
  VolumePort,
} from '../ports.js';
import type { CapsuleRegistry } from './registry.js';

/** The agent settings the domain reads (a subset of AgentConfig, loaded in start/). */
export interface CapsuleSettings {
  dataDir: string;
  /** Disk of a capsule whose Create leaves disk_size_mb unset. */
  defaultRootfsSizeBytes: number;
  uidBase: number;
  uidRange: number;
  pidsMax: number;
  /** Capsules' memory limits may add up to host memory × this (WRENN_MEMORY_OVERCOMMIT); default MEMORY_OVERCOMMIT. */
  memoryOvercommit?: number;
  netRateBytesPerSec: number;
  netBurstBytes: number;
  envdStartTimeoutMs: number;
  /** Where paused capsules' snapshots live. */
  snapshotDir: string;
  /** Where snapshot templates live (WRENN_SNAPSHOT_TEMPLATE_DIR). */
  snapshotTemplateDir: string;
  /** Deadline of each CRIU dump and restore (WRENN_PAUSE_TIMEOUT_MS). */
  pauseTimeoutMs: number;
  snapshotPrepareTimeoutMs: number;
  pauseDrainGraceMs: number;
}

export interface CapsuleKit {
  logger: Logger;
  settings: CapsuleSettings;
  host: HostFacts;
  registry: CapsuleRegistry;
  /** Metrics sampler, lifetime timer and idle check of each running capsule. */
  watchers: Pick<CapsuleWatchers, 'start' | 'stop'>;
  runtime: Runtime;
  network: NetworkPort;
  rootfs: RootfsPort;
  templates: TemplatePort;
  envd: EnvdConnector;
  /** How envd gets into a capsule (mounts, argv, environment). */
  envdLaunch: EnvdLaunch;
  disk: SnapshotDiskPort;
  /** The port proxy's connections: a pause drains them, a destroy closes them. */
  connections?: ProxiedConnectionsPort;
  /** Volumes mounted into capsules (absent on hosts wired without them: a Create naming one fails). */
  volumes?: VolumePort;
}

/** The capsule's directory (record, bundle, disk). */
export function capsuleDir(kit: Pick<CapsuleKit, 'registry'>, runtimeId: string): string {
  return kit.registry.store.dirOf(runtimeId);
}

/** The runtime spec of a capsule: the same for its first start, a resume and a restore. */
export function runtimeSpec(kit: Pick<CapsuleKit, 'registry' | 'settings' | 'envdLaunch' | 'volumes'>, record: CapsuleRecord, rootfsDir: string): SandboxSpec {
  const { settings, envdLaunch } = kit;
  const volumeMounts = (record.volumes ?? []).map((v) => ({ source: volumesOf(kit).mountDirOf(v.volumeId), destination: v.path, readonly: false }));
  return {
    id: record.runtimeId,
    bundleDir: join(capsuleDir(kit, record.runtimeId), 'bundle'),
    rootfs: rootfsDir,
    hostname: hostnameOf(record),
    idMapping: { hostBase: settings.uidBase, size: settings.uidRange },
    limits: { vcpus: record.vcpus, memoryMb: record.memoryMb, pidsMax: settings.pidsMax },
    mounts: [...envdLaunch.mounts, ...volumeMounts],
    args: envdLaunch.args,
    env: envdLaunch.env,
    cwd: '/',
  };
}

export function volumesOf(kit: Pick<CapsuleKit, 'volumes'>): VolumePort {
  if (!kit.volumes) throw new WrennError('failed_precondition', 'this host agent has no volume support');
  return kit.volumes;
}

/** Mounts on the host every volume the capsule uses (before a start or restore binds them in). */
export async function attachVolumes(kit: Pick<CapsuleKit, 'volumes'>, record: CapsuleRecord, signal?: AbortSignal): Promise<void> {
  for (const v of record.volumes ?? []) await volumesOf(kit).attach(v.volumeId, record.id, signal);
}

/**
 * Egress and rate limit of the capsule's veth: its deny list, and as exceptions the
 * addresses of its allow list plus what the names in it resolved to.
 */
export function plumbOptions(kit: Pick<CapsuleKit, 'settings'>, record: CapsuleRecord): PlumbOptions {
  const rules = record.egressRules;
  return {
    egress: record.egress,
    ...(rules ? { denyOut: rules.denyOut, allowOut: [...cidrsOf(rules.allowOut), ...(record.egressResolved ?? [])] } : {}),
    rateBytesPerSec: kit.settings.netRateBytesPerSec,
    burstBytes: kit.settings.netBurstBytes,
  };
}

/** A capsule's hostname: its id, cut to what a hostname may hold. */
export function hostnameOf(record: CapsuleRecord): string {
  return record.id.slice(0, 63);
}

/**
 * Snapshot templates: a running capsule saved with its memory (CRIU image) and a copy of
 * its disk, from which new capsules continue. What the snapshot logic needs from the rest
 * of the agent, as interfaces (the domain never imports runc, mount or ip code).
 */
import type { TemplateInfo } from '../../infra/rootfs/layers.js';
import type { PauseDeps } from '../pause/pause-types.js';

/** template.json of a snapshot template (everything a create from it needs, H5). */
export interface SnapshotTemplateMetadata {
  version: 1;
  kind: 'snapshot';
  name: string;
  /** A CRIU image only restores on the machine (kernel, paths) it was taken on. */
  hostId: string;
  sourceCapsuleId: string;
  /** The base template under the disk layer (the source's own base for a snapshot of a snapshot's capsule). */
  baseTemplate: string;
  /** That template's build time: a rebuilt base no longer matches the disk layer. */
  baseTemplateCreatedAt: string;
  vcpus: number;
  memoryMb: number;
  diskSizeBytes: number;
  egress: boolean;
  defaultUser: string;
  workdir?: string;
  envs: Record<string, string>;
  metadata: Record<string, string>;
  /** envd's token inside the image: the agent authenticates with it until /init sets the new capsule's. */
  envdAccessToken: string;
  createdAtMs: number;
  /** Bytes of the memory image. */
  memoryBytes: number;
  /** Bytes the disk copy occupies (it is sparse). */
  diskBytes: number;
  criuVersion?: string;
  /** As SnapshotMetadata.socketsNeedNetwork: false when the image needs no network while restored. */
  socketsNeedNetwork?: false;
}

/** A snapshot template as callers see it (no secrets). */
export interface SnapshotTemplateInfo {
  name: string;
  kind: 'snapshot';
  sourceCapsuleId: string;
  baseTemplate: string;
  createdAtMs: number;
  /** Disk copy plus memory image. */
  sizeBytes: number;
  memoryBytes: number;
  vcpus: number;
  memoryMb: number;
  diskSizeBytes: number;
  defaultUser: string;
}

/** Base templates as the snapshot logic needs them. */
export interface BaseTemplatePort {
  /** Throws template_not_found when there is no base template of that name. */
  get(name: string): Promise<TemplateInfo>;
  list(): Promise<TemplateInfo[]>;
}

export interface SnapshotDiskPort {
  /** Copies a running capsule's disk (filesystem frozen meanwhile) to `dst`. */
  copyMounted(capsuleDir: string, dst: string, signal?: AbortSignal): Promise<void>;
  /** Makes a copy of a template's disk the disk of a new capsule (before mountExisting). */
  adopt(srcImage: string, capsuleDir: string, signal?: AbortSignal): Promise<void>;
  /** Lets writes to a capsule's disk through again (recovery after a crash mid-copy). Idempotent. */
  thaw(capsuleDir: string): Promise<void>;
  allocatedBytes(path: string): Promise<number>;
}

/** Pause's dependencies (runtime, network, rootfs, envd, records) plus the snapshot-only ones. */
export interface SnapshotDeps extends PauseDeps {
  baseTemplates: BaseTemplatePort;
  disk: SnapshotDiskPort;
  /** Rewrites the files that name the capsule (/etc/hostname, /etc/hosts) in its root. */
  writeIdentity(rootfsDir: string, hostname: string): Promise<void>;
  /** Creates the capsule's directory and bundle directory (config.json, logs) before the restore. */
  prepareBundle(runtimeId: string): Promise<void>;
  /** Deletes the capsule's record and directory (a start that failed). */
  removeRecord(runtimeId: string): Promise<void>;
}

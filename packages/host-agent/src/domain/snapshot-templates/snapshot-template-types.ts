/**
 * Snapshot templates: a running capsule saved with its memory (CRIU image) and a copy of
 * its disk, from which new capsules continue. Their metadata on disk and as callers see it.
 */

/** template.json of a snapshot template (everything a create from it needs, docs/decisions.md#h5). */
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

/** Domain records → wire messages of hostagent.v1. */
import { create } from '@bufbuild/protobuf';
import { CapsuleSchema, CapsuleStatus, PauseKind, TemplateKind, TemplateSchema, type Capsule, type Template } from '@wrenn/proto/hostagent';
import type { CapsuleRecord, CapsuleStatus as DomainStatus } from '../domain/capsule-record.js';
import type { ListedTemplate } from '../domain/snapshot-templates/listing.js';

const STATUS: Record<DomainStatus, CapsuleStatus> = {
  warm: CapsuleStatus.RUNNING,
  starting: CapsuleStatus.STARTING,
  running: CapsuleStatus.RUNNING,
  // Frozen for a moment and refusing other operations, like a pause that ends running.
  snapshotting: CapsuleStatus.PAUSING,
  pausing: CapsuleStatus.PAUSING,
  paused: CapsuleStatus.PAUSED,
  resuming: CapsuleStatus.RESUMING,
  stopping: CapsuleStatus.STOPPING,
  error: CapsuleStatus.ERROR,
};

export function toCapsule(r: CapsuleRecord): Capsule {
  return create(CapsuleSchema, {
    id: r.id,
    status: STATUS[r.status],
    template: r.template,
    vcpus: r.vcpus,
    memoryMb: r.memoryMb,
    diskSizeMb: Math.round(r.diskSizeBytes / 1024 / 1024),
    address: r.address,
    createdAtMs: BigInt(r.createdAtMs),
    expiresAtMs: BigInt(r.expiresAtMs),
    metadata: r.metadata,
    error: r.error ?? '',
    fromWarmPool: r.fromWarmPool,
    defaultUser: r.defaultUser,
    pauseKind: r.pauseKind === 'memory' ? PauseKind.MEMORY : r.pauseKind === 'filesystem' ? PauseKind.FILESYSTEM : PauseKind.UNSPECIFIED,
    pausedAtMs: BigInt(r.pausedAtMs ?? 0),
    autoPauseSec: r.autoPauseSec ?? 0,
  });
}

export function toTemplate(t: ListedTemplate): Template {
  return create(TemplateSchema, {
    name: t.name,
    kind: t.kind === 'snapshot' ? TemplateKind.SNAPSHOT : TemplateKind.BASE,
    sizeBytes: BigInt(t.sizeBytes),
    memoryBytes: BigInt(t.memoryBytes),
    sourceCapsuleId: t.sourceCapsuleId,
    createdAtMs: BigInt(t.createdAtMs),
    baseTemplate: t.baseTemplate,
    defaultUser: t.defaultUser,
    vcpus: t.vcpus,
    memoryMb: t.memoryMb,
    diskSizeMb: Math.round(t.diskSizeBytes / 1024 / 1024),
  });
}

/**
 * What a Create from a snapshot template becomes: its resources (the snapshot's unless the
 * caller asks for more CPU or memory; never less memory than the image was taken with, and
 * the snapshot's disk) and its record. Also the one listing of base and snapshot templates.
 */
import { WrennError } from '@wrenn/shared';
import type { NetworkSlot } from '../../infra/net/network.js';
import type { TemplateInfo } from '../../infra/rootfs/layers.js';
import type { CapsuleRecord } from '../capsule-record.js';
import type { CreateCapsuleRequest } from '../capsule-manager.js';
import type { SnapshotTemplateInfo, SnapshotTemplateMetadata } from './snapshot-template-types.js';

const MiB = 1024 * 1024;

/** The part of a Create request that shapes the capsule (0 = the template's default). */
export type CloneRequest = Omit<CreateCapsuleRequest, 'template'>;

export interface CloneShape {
  vcpus: number;
  memoryMb: number;
  diskSizeBytes: number;
}

export function cloneShape(req: CloneRequest, template: SnapshotTemplateMetadata): CloneShape {
  const memoryMb = req.memoryMb || template.memoryMb;
  if (memoryMb < template.memoryMb) {
    throw new WrennError(
      'invalid_argument',
      `a capsule from snapshot template ${template.name} needs at least the ${template.memoryMb} MB of memory the snapshot was taken with (asked: ${memoryMb}); ask for more or leave memory_mb unset`,
      { template: template.name, memoryMb, minimumMemoryMb: template.memoryMb },
    );
  }
  if (req.diskSizeMb * MiB > template.diskSizeBytes) {
    throw new WrennError(
      'invalid_argument',
      `a capsule from snapshot template ${template.name} has the snapshot's disk of ${Math.round(template.diskSizeBytes / MiB)} MB (asked: ${req.diskSizeMb}); leave disk_size_mb unset`,
      { template: template.name, diskSizeMb: req.diskSizeMb },
    );
  }
  return { vcpus: req.vcpus || template.vcpus, memoryMb, diskSizeBytes: template.diskSizeBytes };
}

/** The new capsule's record (status `starting`): own id, address, token; envs on top of the snapshot's. */
export function cloneRecord(
  req: CloneRequest,
  template: SnapshotTemplateMetadata,
  shape: CloneShape,
  slot: NetworkSlot,
  accessToken: string,
): CapsuleRecord {
  const now = Date.now();
  const workdir = req.workdir || template.workdir;
  return {
    id: req.capsuleId,
    runtimeId: req.capsuleId,
    status: 'starting',
    template: template.name,
    baseTemplate: template.baseTemplate,
    vcpus: shape.vcpus,
    memoryMb: shape.memoryMb,
    diskSizeBytes: shape.diskSizeBytes,
    netSlot: slot.index,
    address: slot.guestIp,
    envdAccessToken: accessToken,
    createdAtMs: now,
    expiresAtMs: req.lifetimeSec > 0 ? now + req.lifetimeSec * 1000 : 0,
    ...(req.autoPauseSec ? { autoPauseSec: req.autoPauseSec } : {}),
    metadata: req.metadata,
    // envd keeps the snapshot's variables and adds the new ones: the record says the same.
    envs: { ...template.envs, ...req.envs },
    defaultUser: req.defaultUser || template.defaultUser,
    ...(workdir ? { workdir } : {}),
    egress: req.egress,
    fromWarmPool: false,
  };
}

/** A template of either kind, as ListTemplates reports it. */
export interface ListedTemplate {
  name: string;
  kind: 'base' | 'snapshot';
  /** Bytes on this host: the layer, or disk copy + memory image. */
  sizeBytes: number;
  memoryBytes: number;
  sourceCapsuleId: string;
  createdAtMs: number;
  baseTemplate: string;
  defaultUser: string;
  /** Snapshot templates: the resources of the capsule it was taken of; 0 for base templates. */
  vcpus: number;
  memoryMb: number;
  diskSizeBytes: number;
}

export function listedBase(t: TemplateInfo): ListedTemplate {
  return {
    name: t.name,
    kind: 'base',
    sizeBytes: t.sizeBytes,
    memoryBytes: 0,
    sourceCapsuleId: '',
    createdAtMs: Date.parse(t.createdAt) || 0,
    baseTemplate: '',
    defaultUser: t.defaultUser,
    vcpus: 0,
    memoryMb: 0,
    diskSizeBytes: 0,
  };
}

export function listedSnapshot(t: SnapshotTemplateInfo): ListedTemplate {
  return {
    name: t.name,
    kind: 'snapshot',
    sizeBytes: t.sizeBytes,
    memoryBytes: t.memoryBytes,
    sourceCapsuleId: t.sourceCapsuleId,
    createdAtMs: t.createdAtMs,
    baseTemplate: t.baseTemplate,
    defaultUser: t.defaultUser,
    vcpus: t.vcpus,
    memoryMb: t.memoryMb,
    diskSizeBytes: t.diskSizeBytes,
  };
}

/** The one listing of base and snapshot templates (ListTemplates). */
import type { TemplateInfo } from '../ports.js';
import type { SnapshotTemplateInfo } from './snapshot-template-types.js';

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

/** Conversions between hostagent.v1 wire messages and the domain: records out, selectors, commands and directory entries in. */
import { create } from '@bufbuild/protobuf';
import { CapsuleSchema, CapsuleStatus, PauseKind, TemplateKind, TemplateSchema, type Capsule, type Template } from '@wrenn/proto/hostagent';
import type { CapsuleRecord, CapsuleStatus as DomainStatus } from '../domain/capsule-record.js';
import type { ListedTemplate } from '../domain/snapshot-templates/listing.js';
import { FileType } from '@wrenn/proto/filesystem';
import { WrennError } from '@wrenn/shared';
import type { ProcessSelector as WireSelector } from '@wrenn/proto/hostagent';
import type { CommandSpec } from '../domain/process-ops.js';
import type { ProcessSelector } from '../infra/envd/envd-client.js';

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
    restarts: r.restarts ?? 0,
    lastRestartReason: r.lastRestart?.reason ?? '',
    lastRestartAtMs: BigInt(r.lastRestart?.atMs ?? 0),
    autoPauseSec: r.autoPauseSec ?? 0,
    egress: r.egress,
    allowOut: r.egressRules?.allowOut ?? [],
    denyOut: r.egressRules?.denyOut ?? [],
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

export function required(value: string, name: string): string {
  if (!value) throw new WrennError('invalid_argument', `${name} is required`);
  return value;
}

export function selectorOf(sel: WireSelector | undefined): ProcessSelector {
  const s = sel?.selector;
  if (s?.case === 'pid') return { pid: s.value };
  if (s?.case === 'tag' && s.value) return { tag: s.value };
  throw new WrennError('invalid_argument', 'process selector needs a pid or a tag');
}

export function spec(r: { cmd: string; args: string[]; envs: Record<string, string>; cwd?: string; user?: string }): CommandSpec {
  return { cmd: required(r.cmd, 'cmd'), args: r.args, envs: r.envs, cwd: r.cwd, user: r.user };
}

const FILE_TYPE_NAMES: Partial<Record<FileType, string>> = {
  [FileType.FILE]: 'file',
  [FileType.DIRECTORY]: 'dir',
  [FileType.SYMLINK]: 'symlink',
};

export function dirEntry(e: {
  name: string;
  path: string;
  type: FileType;
  size: bigint;
  mode: number;
  permissions: string;
  owner: string;
  group: string;
  symlinkTarget?: string;
  modifiedTime?: { seconds: bigint; nanos: number };
}) {
  return {
    name: e.name,
    path: e.path,
    type: FILE_TYPE_NAMES[e.type] ?? 'file',
    size: BigInt(e.size),
    mode: e.mode,
    owner: e.owner,
    permissions: e.permissions,
    group: e.group,
    ...(e.symlinkTarget !== undefined ? { symlinkTarget: e.symlinkTarget } : {}),
    modifiedAtMs: e.modifiedTime ? e.modifiedTime.seconds * 1000n + BigInt(Math.floor(e.modifiedTime.nanos / 1e6)) : 0n,
  };
}

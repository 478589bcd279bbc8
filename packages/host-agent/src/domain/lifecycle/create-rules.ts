/**
 * The rules of a Create, in one place: what an unset field means (the defaults), what a
 * capsule may ask for, and the record it starts with. A Create arrives as the RPC has it
 * (`CreateCapsuleRequest`: 0, '' and absent mean "the default"), becomes a `CreateSpec`
 * (every default filled in, except CPU and memory, which depend on the template kind) and
 * then a `CapsuleRecord`. Pure functions: no I/O, so they are unit-tested directly.
 */
import { WrennError } from '@wrenn/shared';
import { upperImageSizeBytes } from '../../infra/rootfs/ext4-image.js';
import type { CapsuleRecord, VolumeMountSpec } from '../capsule-record.js';
import type { HostFacts, NetworkSlot, TemplateInfo } from '../ports.js';
import type { SnapshotTemplateMetadata } from '../snapshot-templates/snapshot-template-types.js';

/** The template of a Create that names none. */
export const DEFAULT_TEMPLATE = 'minimal';
/** Shape of a capsule from a base template when the request leaves it open. */
export const DEFAULT_VCPUS = 1;
export const DEFAULT_MEMORY_MB = 512;
export const MAX_VCPUS_PER_CAPSULE = 64;
export const MIN_MEMORY_MB = 64;
/**
 * Memory limits are caps, not reservations: by default the limits of this host's capsules
 * may add up to this many times its memory (WRENN_MEMORY_OVERCOMMIT, the same ratio the
 * control plane's placement uses). An idle capsule uses a small part of its limit (~20 MB
 * of a 128 MB one): at 3, a 24 GB host takes 500+ capsules of 128 MB.
 */
export const MEMORY_OVERCOMMIT = 3;

const MiB = 1024 * 1024;

/** A Create as the RPC receives it: 0, '' and absent mean "the default". */
export interface CreateCapsuleRequest {
  capsuleId: string;
  /** A base template, or a snapshot template (the capsule continues from its memory). Default: minimal. */
  template?: string;
  /** 0 = the template's default (1, or the snapshot's). */
  vcpus?: number;
  /** 0 = the template's default (512, or the snapshot's). */
  memoryMb?: number;
  /** 0 = the configured default (base templates), the snapshot's disk (snapshot templates). */
  diskSizeMb?: number;
  envs?: Record<string, string>;
  metadata?: Record<string, string>;
  /** 0 = no lifetime limit. */
  lifetimeSec?: number;
  /** Pause after this many seconds without activity; 0/absent = never. */
  autoPauseSec?: number;
  /** Default: true. */
  egress?: boolean;
  /** IPv4 addresses / CIDRs the capsule may not reach (checked by the manager). */
  denyOut?: string[];
  /** Exceptions to denyOut: addresses, CIDRs or domain names. */
  allowOut?: string[];
  /** The addresses the names of allowOut resolved to (filled by the manager). */
  egressResolved?: string[];
  /** '' = the template's. */
  defaultUser?: string;
  workdir?: string;
  volumes?: VolumeMountSpec[];
}

/** A Create with its defaults filled in; vcpus and memoryMb stay 0 = "the template's". */
export interface CreateSpec {
  capsuleId: string;
  template: string;
  vcpus: number;
  memoryMb: number;
  diskSizeMb: number;
  envs: Record<string, string>;
  metadata: Record<string, string>;
  lifetimeSec: number;
  autoPauseSec: number;
  egress: boolean;
  /** Absent: the capsule has no lists of its own. */
  egressRules?: { denyOut: string[]; allowOut: string[] };
  /** What the names of egressRules.allowOut resolved to (with egressRules only). */
  egressResolved?: string[];
  defaultUser: string;
  workdir: string;
  volumes: VolumeMountSpec[];
}

/** CPU, memory and disk of a new capsule. */
export interface CapsuleShape {
  vcpus: number;
  memoryMb: number;
  diskSizeBytes: number;
}

export function createSpec(req: CreateCapsuleRequest): CreateSpec {
  const spec: CreateSpec = {
    capsuleId: req.capsuleId,
    template: req.template || DEFAULT_TEMPLATE,
    vcpus: req.vcpus ?? 0,
    memoryMb: req.memoryMb ?? 0,
    diskSizeMb: req.diskSizeMb ?? 0,
    envs: req.envs ?? {},
    metadata: req.metadata ?? {},
    lifetimeSec: req.lifetimeSec ?? 0,
    autoPauseSec: req.autoPauseSec ?? 0,
    egress: req.egress ?? true,
    ...(req.denyOut?.length || req.allowOut?.length
      ? { egressRules: { denyOut: req.denyOut ?? [], allowOut: req.allowOut ?? [] }, egressResolved: req.egressResolved ?? [] }
      : {}),
    defaultUser: req.defaultUser ?? '',
    workdir: req.workdir ?? '',
    volumes: req.volumes ?? [],
  };
  checkVolumeMounts(spec.volumes);
  if (spec.diskSizeMb < 0 || !Number.isInteger(spec.diskSizeMb)) {
    throw new WrennError('invalid_argument', `disk_size_mb must be a non-negative integer, got ${spec.diskSizeMb}`);
  }
  return spec;
}

/** Each volume once, each at its own absolute path, none over the capsule's own mounts. */
export function checkVolumeMounts(volumes: readonly VolumeMountSpec[]): void {
  const paths = new Set<string>();
  const ids = new Set<string>();
  for (const v of volumes) {
    const p = v.path;
    if (!p.startsWith('/') || p.includes('\0') || p.split('/').some((c) => c === '..' || c === '.') || p.length > 1024) {
      throw new WrennError('invalid_argument', `volume mount path ${JSON.stringify(p)} must be an absolute path without '.' or '..'`);
    }
    const norm = p.replace(/\/+$/, '').replace(/\/{2,}/g, '/');
    if (norm === '' || /^\/(proc|sys|dev|\.wrenn)(\/|$)/.test(norm)) throw new WrennError('invalid_argument', `a volume cannot be mounted at ${p}`);
    if (paths.has(norm) || ids.has(v.volumeId)) throw new WrennError('invalid_argument', `volume ${v.volumeId} or path ${p} is named twice`);
    paths.add(norm);
    ids.add(v.volumeId);
  }
}

/** The shape of a capsule from a base template; the disk never smaller than the template (docs/decisions.md#h6). */
export function baseShape(spec: CreateSpec, template: Pick<TemplateInfo, 'sizeBytes'>, defaultDiskBytes: number): CapsuleShape {
  const requested = spec.diskSizeMb > 0 ? spec.diskSizeMb * MiB : defaultDiskBytes;
  return {
    vcpus: spec.vcpus || DEFAULT_VCPUS,
    memoryMb: spec.memoryMb || DEFAULT_MEMORY_MB,
    diskSizeBytes: upperImageSizeBytes(requested, template.sizeBytes),
  };
}

/**
 * The shape of a capsule from a snapshot template: the snapshot's unless the caller asks
 * for more CPU or memory; never less memory than the image was taken with, and the
 * snapshot's disk.
 */
export function cloneShape(spec: CreateSpec, template: SnapshotTemplateMetadata): CapsuleShape {
  const memoryMb = spec.memoryMb || template.memoryMb;
  if (memoryMb < template.memoryMb) {
    throw new WrennError(
      'invalid_argument',
      `a capsule from snapshot template ${template.name} needs at least the ${template.memoryMb} MB of memory the snapshot was taken with (asked: ${memoryMb}); ask for more or leave memory_mb unset`,
      { template: template.name, memoryMb, minimumMemoryMb: template.memoryMb },
    );
  }
  if (spec.diskSizeMb * MiB > template.diskSizeBytes) {
    throw new WrennError(
      'invalid_argument',
      `a capsule from snapshot template ${template.name} has the snapshot's disk of ${Math.round(template.diskSizeBytes / MiB)} MB (asked: ${spec.diskSizeMb}); leave disk_size_mb unset`,
      { template: template.name, diskSizeMb: spec.diskSizeMb },
    );
  }
  return { vcpus: spec.vcpus || template.vcpus, memoryMb, diskSizeBytes: template.diskSizeBytes };
}

/** CPU and memory in range, and room for them on this host next to `committedMb` of other capsules. */
export function checkCapacity(
  shape: Pick<CapsuleShape, 'vcpus' | 'memoryMb'>,
  host: Pick<HostFacts, 'vcpusTotal' | 'memoryTotalMb' | 'memoryFreeMb'>,
  committedMb: number,
  memoryOvercommit = MEMORY_OVERCOMMIT,
): void {
  const { vcpus, memoryMb } = shape;
  if (!(vcpus > 0 && vcpus <= MAX_VCPUS_PER_CAPSULE)) {
    throw new WrennError('invalid_argument', `vcpus must be > 0 and ≤ ${MAX_VCPUS_PER_CAPSULE}, got ${vcpus}`);
  }
  if (!Number.isInteger(memoryMb) || memoryMb < MIN_MEMORY_MB) {
    throw new WrennError('invalid_argument', `memory_mb must be an integer ≥ ${MIN_MEMORY_MB}, got ${memoryMb}`);
  }
  if (vcpus > host.vcpusTotal) {
    throw new WrennError('host_at_capacity', `vcpus ${vcpus} exceeds this host's ${host.vcpusTotal} cores`);
  }
  const hostMb = host.memoryTotalMb();
  if (memoryMb > hostMb) {
    throw new WrennError('host_at_capacity', `memory_mb ${memoryMb} exceeds this host's ${hostMb} MB of memory`);
  }
  if (committedMb + memoryMb > hostMb * memoryOvercommit) {
    throw new WrennError(
      'host_at_capacity',
      `host memory is fully committed (${committedMb} MB to running capsules, ${host.memoryFreeMb()} MB free); destroy or pause capsules, or ask for less memory`,
    );
  }
}

function expiresAt(spec: CreateSpec, now: number): number {
  return spec.lifetimeSec > 0 ? now + spec.lifetimeSec * 1000 : 0;
}

/** The record (status `starting`) of a capsule from a base template; `warm` marks one for the warm pool. */
export function baseRecord(
  spec: CreateSpec,
  runtimeId: string,
  template: Pick<TemplateInfo, 'defaultUser' | 'defaultWorkdir'>,
  shape: CapsuleShape,
  slot: NetworkSlot,
  accessToken: string,
  warm = false,
): CapsuleRecord {
  const now = Date.now();
  const workdir = spec.workdir || template.defaultWorkdir;
  return {
    id: spec.capsuleId,
    runtimeId,
    status: 'starting',
    template: spec.template,
    ...shape,
    netSlot: slot.index,
    address: slot.guestIp,
    envdAccessToken: accessToken,
    createdAtMs: now,
    expiresAtMs: expiresAt(spec, now),
    ...(spec.autoPauseSec ? { autoPauseSec: spec.autoPauseSec } : {}),
    metadata: spec.metadata,
    envs: spec.envs,
    defaultUser: spec.defaultUser || template.defaultUser,
    ...(workdir ? { workdir } : {}),
    egress: spec.egress,
    ...egressFields(spec),
    fromWarmPool: false,
    ...(warm ? { warm: true } : {}),
    ...(spec.volumes.length ? { volumes: spec.volumes } : {}),
  };
}

/** The record (status `starting`) of a capsule from a snapshot template: own id, address, token; envs on top of the snapshot's. */
export function cloneRecord(spec: CreateSpec, template: SnapshotTemplateMetadata, shape: CapsuleShape, slot: NetworkSlot, accessToken: string): CapsuleRecord {
  const now = Date.now();
  const workdir = spec.workdir || template.workdir;
  return {
    id: spec.capsuleId,
    runtimeId: spec.capsuleId,
    status: 'starting',
    template: template.name,
    baseTemplate: template.baseTemplate,
    ...shape,
    netSlot: slot.index,
    address: slot.guestIp,
    envdAccessToken: accessToken,
    createdAtMs: now,
    expiresAtMs: expiresAt(spec, now),
    ...(spec.autoPauseSec ? { autoPauseSec: spec.autoPauseSec } : {}),
    metadata: spec.metadata,
    // envd keeps the snapshot's variables and adds the new ones: the record says the same.
    envs: { ...template.envs, ...spec.envs },
    defaultUser: spec.defaultUser || template.defaultUser,
    ...(workdir ? { workdir } : {}),
    egress: spec.egress,
    ...egressFields(spec),
    fromWarmPool: false,
  };
}

/**
 * What a claim of a warm capsule changes in its record: the caller's id, shape, envs,
 * metadata, user and lifetime, and a fresh token. Status is left to the registry.
 */
export function claimedRecord(
  record: CapsuleRecord,
  spec: CreateSpec,
  shape: Pick<CapsuleShape, 'vcpus' | 'memoryMb'>,
  accessToken: string,
): Partial<Omit<CapsuleRecord, 'status'>> {
  const now = Date.now();
  return {
    id: spec.capsuleId,
    vcpus: shape.vcpus,
    memoryMb: shape.memoryMb,
    envdAccessToken: accessToken,
    envs: spec.envs,
    metadata: spec.metadata,
    defaultUser: spec.defaultUser || record.defaultUser,
    ...(spec.workdir || record.workdir ? { workdir: spec.workdir || record.workdir } : {}),
    createdAtMs: now,
    expiresAtMs: expiresAt(spec, now),
    autoPauseSec: spec.autoPauseSec,
    ...egressFields(spec),
    fromWarmPool: true,
    warm: false,
  };
}

/** The record's egress lists from a spec (absent when it has none). */
function egressFields(spec: CreateSpec): Pick<CapsuleRecord, 'egressRules' | 'egressResolved'> {
  return spec.egressRules ? { egressRules: spec.egressRules, egressResolved: spec.egressResolved ?? [] } : {};
}

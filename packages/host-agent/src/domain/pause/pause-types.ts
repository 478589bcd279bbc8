/**
 * Pause and resume of capsules: the two kinds of pause, and what the pause logic needs from
 * the rest of the agent (as interfaces: the domain never imports runc, mount or ip code).
 *
 * Not to be confused with the runtime's `freeze`/`thaw` (cgroup freezer): an in-memory
 * pause of seconds, which keeps all memory; a pause here releases the capsule's memory.
 */
import type { Logger } from '@wrenn/shared';
import type { CapsuleRootfs, TemplateInfo } from '../../infra/rootfs/layers.js';
import type { NetworkSlot, PlumbOptions } from '../../infra/net/network.js';
import type { Runtime, SandboxSpec } from '../../infra/runtime/runtime.js';
import type { EnvdClient } from '../../infra/envd/envd-client.js';
import type { CapsuleRecord } from '../capsule-record.js';
import type { TemplatePort } from '../ports.js';
import type { BaseTemplatePort, SnapshotDiskPort } from '../snapshot-templates/snapshot-template-types.js';

/** memory: processes, memory and connections kept (CRIU); filesystem: only the disk kept. */
export type PauseKind = 'memory' | 'filesystem';

export interface PauseHostSupport {
  /** Memory snapshots work on this host (`criu check`). */
  memory: boolean;
  /** Lazy restore (userfaultfd) works and is enabled. */
  lazyPages: boolean;
  criuVersion?: string;
}

/** A capsule as the manager holds it; the pause logic swaps its envd client. */
export interface PausableCapsule {
  record: CapsuleRecord;
  envd?: EnvdClient;
}

export interface PauseNetworkPort {
  slot(index: number): NetworkSlot;
  plumb(slot: NetworkSlot, pid: number, opts: PlumbOptions, signal?: AbortSignal): Promise<void>;
  /**
   * Plumbs a sandbox being restored (its netns made by the restore): `guestReady` once its
   * end has the address and route (the restore may go on), `complete` once the host end too.
   */
  plumbRestored(slot: NetworkSlot, pid: number, opts: PlumbOptions, signal?: AbortSignal): { guestReady: Promise<void>; complete: Promise<void> };
  /** Removes the slot's interfaces and rules; the slot stays reserved. */
  unplumb(slot: NetworkSlot): Promise<void>;
}

export interface PauseRootfsPort {
  mountExisting(opts: { capsuleDir: string; template: TemplateInfo; signal?: AbortSignal }): Promise<CapsuleRootfs>;
  /** Where `mountExisting` mounts the capsule's root (known before it is mounted). */
  rootfsDirOf(capsuleDir: string): string;
  /** Unmounts the capsule's rootfs and detaches its loop device; the disk image is kept. Idempotent. */
  unmount(capsuleDir: string): Promise<void>;
  /** Deletes the disk (a capsule that can no longer run). */
  remove(capsuleDir: string): Promise<void>;
}

/** Lets proxied connections to the capsule finish within `graceMs`, then force-closes them (H1). */
export type DrainConnections = (capsuleId: string, graceMs: number, signal: AbortSignal) => Promise<void>;

export interface PauseDeps {
  logger: Logger;
  hostId: string;
  support: PauseHostSupport;
  runtime: Runtime;
  network: PauseNetworkPort;
  rootfs: PauseRootfsPort;
  templates: TemplatePort;
  envdPort: number;
  /** The runtime spec the capsule was started with (same bundle, id, mounts, limits). */
  sandboxSpec(record: CapsuleRecord, rootfsDir: string): SandboxSpec;
  capsuleDir(runtimeId: string): string;
  plumbOptions(record: CapsuleRecord): PlumbOptions;
  saveRecord(record: CapsuleRecord): Promise<void>;
  /** Metrics sampler and lifetime timer. */
  startWatchers(capsule: PausableCapsule): void;
  stopWatchers(capsule: PausableCapsule): void;
  snapshotDir: string;
  prepareTimeoutMs: number;
  /** Deadline of each CRIU dump and restore (WRENN_PAUSE_TIMEOUT_MS). */
  criuTimeoutMs: number;
  drainGraceMs: number;
  /** The port proxy's drain (src/proxy; the manager wires it from its `connections`). */
  drain?: DrainConnections;
  envdStartTimeoutMs: number;
}

/** What the composition root provides to enable pause; the manager adds the rest. */
export interface PauseSetup {
  hostId: string;
  support: PauseHostSupport;
  /** Deadline of each CRIU dump and restore (WRENN_PAUSE_TIMEOUT_MS). */
  criuTimeoutMs: number;
  network: PauseNetworkPort;
  rootfs: PauseRootfsPort;
  drain?: DrainConnections;
  /** Snapshot templates (saving a capsule with its memory as a template); absent: not offered. */
  snapshotTemplates?: SnapshotTemplateSetup;
}

export interface SnapshotTemplateSetup {
  /** Where snapshot templates live (WRENN_SNAPSHOT_TEMPLATE_DIR). */
  root: string;
  baseTemplates: BaseTemplatePort;
  disk: SnapshotDiskPort;
}

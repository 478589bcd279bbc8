/**
 * What the capsule manager needs from the infrastructure, as interfaces: the domain never
 * imports runc, mount or ip code directly, so a Firecracker host plugs in the same way.
 */
import type { CapsuleRootfs, TemplateInfo } from '../infra/rootfs/layers.js';
import type { NetworkSlot, PlumbOptions } from '../infra/net/network.js';
import type { BindMount } from '../infra/runtime/runtime.js';
import type { DrainConnections } from './pause/pause-types.js';

export interface TemplatePort {
  get(name: string): Promise<TemplateInfo>;
}

export interface RootfsPort {
  create(opts: { capsuleDir: string; template: TemplateInfo; diskSizeBytes: number; signal?: AbortSignal }): Promise<CapsuleRootfs>;
  /** Re-mounts an existing capsule disk (agent restart of a capsule whose mounts vanished, resume). */
  mountExisting(opts: { capsuleDir: string; template: TemplateInfo; signal?: AbortSignal }): Promise<CapsuleRootfs>;
  /** Unmounts (if mounted), detaches and deletes the capsule's disk. Idempotent. */
  remove(capsuleDir: string): Promise<void>;
  /** Bytes used/total of the capsule's writable layer. */
  usage(capsuleDir: string): Promise<{ usedBytes: number; totalBytes: number }>;
}

export interface NetworkPort {
  allocate(): NetworkSlot;
  /** The slot with this index (no allocation). */
  slot(index: number): NetworkSlot;
  /** Re-claims a slot recorded on disk (agent restart). */
  reserve(index: number): NetworkSlot;
  release(index: number): void;
  plumb(slot: NetworkSlot, pid: number, opts: PlumbOptions, signal?: AbortSignal): Promise<void>;
  unplumb(slot: NetworkSlot): Promise<void>;
}

/** How envd gets into a capsule: mounts, PID 1 argv and environment. */
export interface EnvdLaunch {
  mounts: BindMount[];
  args: string[];
  env: string[];
  port: number;
}

/** Proxied connections to capsules (src/proxy): drained before a pause (H1), closed on destroy. */
export interface ProxiedConnectionsPort {
  drain: DrainConnections;
  close(capsuleId: string): void;
}

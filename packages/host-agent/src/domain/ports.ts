/**
 * Everything the domain needs from outside itself, as interfaces: the domain never imports
 * runc, mount, ip or HTTP code directly (a Firecracker host plugs in the same way), and
 * unit tests hand it in-memory ports. `start/agent.ts` wires the real adapters, once.
 */
import type { CapsuleRootfs, TemplateInfo } from '../infra/rootfs/layers.js';
import type { NetworkSlot, PlumbOptions } from '../infra/net/network.js';
import type { BindMount } from '../infra/runtime/runtime.js';
import type { EnvdClient, EnvdInit } from '../infra/envd/envd-client.js';

export type { Runtime, SandboxSpec } from '../infra/runtime/runtime.js';
export type { CapsuleRootfs, NetworkSlot, PlumbOptions, TemplateInfo };

/** Base templates (built by infra/template). */
export interface TemplatePort {
  /** Throws template_not_found when there is no base template of that name. */
  get(name: string): Promise<TemplateInfo>;
  list(): Promise<TemplateInfo[]>;
}

/** A capsule's disk: an ext4 writable layer over its template, mounted in its capsule dir. */
export interface RootfsPort {
  create(opts: { capsuleDir: string; template: TemplateInfo; diskSizeBytes: number; signal?: AbortSignal }): Promise<CapsuleRootfs>;
  /** Re-mounts an existing capsule disk (resume, start from a snapshot template). */
  mountExisting(opts: { capsuleDir: string; template: TemplateInfo; signal?: AbortSignal }): Promise<CapsuleRootfs>;
  /** Where `mountExisting` mounts the capsule's root (known before it is mounted). */
  rootfsDirOf(capsuleDir: string): string;
  /** Unmounts the capsule's rootfs and detaches its loop device; the disk image is kept. Idempotent. */
  unmount(capsuleDir: string): Promise<void>;
  /** Unmounts (if mounted), detaches and deletes the capsule's disk. Idempotent. */
  remove(capsuleDir: string): Promise<void>;
  /** Bytes used/total of the capsule's writable layer. */
  usage(capsuleDir: string): Promise<{ usedBytes: number; totalBytes: number }>;
}

/** Addresses (slots) and the veth, rules and rate limit that connect a capsule. */
export interface NetworkPort {
  allocate(): NetworkSlot;
  /** The slot with this index (no allocation). */
  slot(index: number): NetworkSlot;
  /** Re-claims a slot recorded on disk (agent restart). */
  reserve(index: number): NetworkSlot;
  release(index: number): void;
  plumb(slot: NetworkSlot, pid: number, opts: PlumbOptions, signal?: AbortSignal): Promise<void>;
  /**
   * Plumbs a sandbox being restored (its netns made by the restore): `guestReady` once its
   * end has the address and route (the restore may go on), `complete` once the host end too.
   */
  plumbRestored(slot: NetworkSlot, pid: number, opts: PlumbOptions, signal?: AbortSignal): { guestReady: Promise<void>; complete: Promise<void> };
  /** Removes the slot's interfaces and rules; the slot stays reserved. */
  unplumb(slot: NetworkSlot): Promise<void>;
  /** Replaces a plumbed slot's egress (on/off and lists) at once; rate options are ignored. */
  setEgressPolicy(slot: NetworkSlot, opts: PlumbOptions): Promise<void>;
}

/** Resolves the domain names of egress allow lists at the host (infra/net/egress-domains.ts). */
export interface EgressResolverPort {
  /** The addresses (as /32 CIDRs) the names resolve to, recent answers included. */
  resolve(names: readonly string[]): Promise<string[]>;
}

export type { EnvdClient, EnvdInit };

/**
 * Opens connections to the envd inside capsules. The domain itself calls only health,
 * waitHealthy, init, prepareSnapshot and close; the RPC layer reaches the rest of the
 * client (processes, files) through CapsuleManager.envdOf.
 */
export interface EnvdConnector {
  /** The port envd listens on inside every capsule. */
  readonly port: number;
  /** A connection to the envd at `address`; `accessToken` undefined until /init sets one. */
  connect(address: string, accessToken: string | undefined): EnvdClient;
}

/** Volumes of this host (infra/volume): where each is mounted, and mounting it for a capsule. */
export interface VolumePort {
  /** The host directory a capsule's bind mount of the volume comes from. */
  mountDirOf(volumeId: string): string;
  /**
   * Mounts the volume on the host for capsule `capsuleId` if it is not mounted yet:
   * failed_precondition when another capsule of this host holds it, not_found when there
   * is no such volume.
   */
  attach(volumeId: string, capsuleId: string, signal?: AbortSignal): Promise<void>;
}

/** A protected envd (see EnvdGuardPort): opaque to the domain. */
export interface GuardedEnvd {
  readonly envdPid: number;
  /** The OOM score envd was given (-1000), or undefined when the agent may not lower it. */
  readonly protectedScore?: number | undefined;
}

/**
 * envd's protection and liveness, from outside the capsule: `protect` makes the capsule's
 * init and envd unkillable by the OOM killer (its argument is the init's host pid),
 * `alive` tells whether that same envd still runs.
 */
export interface EnvdGuardPort {
  protect(initPid: number): Promise<GuardedEnvd>;
  alive(guarded: GuardedEnvd): Promise<boolean>;
}

/** How envd gets into a capsule: mounts, PID 1 argv and environment. */
export interface EnvdLaunch {
  mounts: BindMount[];
  args: string[];
  env: string[];
}

export interface PauseHostSupport {
  /** Memory snapshots work on this host (`criu check`). */
  memory: boolean;
  /** Lazy restore (userfaultfd) works and is enabled. */
  lazyPages: boolean;
  criuVersion?: string;
}

/** What this machine is and has: the create rules and the pause logic ask it. */
export interface HostFacts {
  hostId: string;
  /** Cores a capsule may be given (WRENN_VCPUS_TOTAL). */
  vcpusTotal: number;
  memoryTotalMb(): number;
  memoryFreeMb(): number;
  pause: PauseHostSupport;
}

/** Lets proxied connections to the capsule finish within `graceMs`, then force-closes them (docs/decisions.md#h1). */
export type DrainConnections = (capsuleId: string, graceMs: number, signal: AbortSignal) => Promise<void>;

/** Proxied connections to capsules (src/proxy): drained before a pause (docs/decisions.md#h1), closed on destroy. */
export interface ProxiedConnectionsPort {
  drain: DrainConnections;
  close(capsuleId: string): void;
}

/** A snapshot template's disk copy. */
export interface SnapshotDiskPort {
  /** Copies a running capsule's disk (filesystem frozen meanwhile) to `dst`. */
  copyMounted(capsuleDir: string, dst: string, signal?: AbortSignal): Promise<void>;
  /** Makes a copy of a template's disk the disk of a new capsule (before mountExisting). */
  adopt(srcImage: string, capsuleDir: string, signal?: AbortSignal): Promise<void>;
  /** Lets writes to a capsule's disk through again (recovery after a crash mid-copy). Idempotent. */
  thaw(capsuleDir: string): Promise<void>;
  allocatedBytes(path: string): Promise<number>;
}

/**
 * The sandbox runtime driver interface. One implementation today (OCI via runc, in
 * ./oci/); a Firecracker driver for KVM hosts will implement the same interface. Nothing
 * runc-specific may leak out of a driver.
 */

export interface BindMount {
  source: string;
  destination: string;
  readonly: boolean;
}

export interface ResourceLimits {
  /** CPU quota in cores (fractional allowed). */
  vcpus: number;
  memoryMb: number;
  pidsMax: number;
}

export interface IdMapping {
  /** Host uid/gid that capsule uid/gid 0 maps to. */
  hostBase: number;
  size: number;
}

export interface SandboxSpec {
  /** Unique id; also the runtime's container id. */
  id: string;
  /** Directory the driver owns for this sandbox (config, state, logs). Must exist. */
  bundleDir: string;
  /** Root filesystem (the merged overlay). */
  rootfs: string;
  hostname: string;
  idMapping: IdMapping;
  limits: ResourceLimits;
  mounts: BindMount[];
  /** PID 1 of the sandbox and its arguments (tini with envd as its child). */
  args: string[];
  env: string[];
  cwd: string;
}

export type SandboxStatus = 'creating' | 'created' | 'running' | 'paused' | 'stopped' | 'unknown';

export interface SandboxState {
  id: string;
  status: SandboxStatus;
  /** Host PID of the sandbox's init process (0 when not running). */
  pid: number;
}

export interface SandboxStats {
  cpuUsageNs: number;
  memoryUsedBytes: number;
  memoryLimitBytes: number;
  pids: number;
}

export interface CheckpointOptions {
  imageDir: string;
  /** Keep established TCP connections in the image (--tcp-established). */
  tcpEstablished?: boolean;
  /** Leave the sandbox running after the dump (for snapshot templates). */
  leaveRunning?: boolean;
  /**
   * Deadline of the dump. On expiry the dump and every helper it started are killed, and
   * the checkpoint fails with deadline_exceeded; the sandbox is left as the dump left it
   * (frozen, or gone), for the caller to revive or release.
   */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface CheckpointResult {
  /**
   * The image holds sockets that need the sandbox's network while they are restored: TCP
   * connections (re-opened by CRIU; the network was locked during the dump) or sockets
   * bound to an address other than the wildcard or loopback. Pass it back to `restore`.
   */
  socketsNeedNetwork: boolean;
}

export interface RestoreOptions {
  imageDir: string;
  /**
   * Where the restore writes its logs and sockets (default: the image dir). Set it when the
   * image is shared by several restores (a snapshot template): the image is then only read.
   */
  workDir?: string;
  tcpEstablished?: boolean;
  /**
   * Close TCP connections that were established at dump time instead of restoring them
   * (clones of a snapshot: the peers belong to the original).
   */
  tcpClose?: boolean;
  /** Restore with lazy pages (userfaultfd) where supported. */
  lazyPages?: boolean;
  /**
   * From the checkpoint's result (default true, for images whose checkpoint result is not
   * known). When false the restore neither locks the network nor waits for
   * `onNamespacesReady` before restoring the processes: it runs alongside.
   */
  socketsNeedNetwork?: boolean;
  /** Deadline of the restore; on expiry it and every helper it started are killed (deadline_exceeded). */
  timeoutMs?: number;
  /**
   * Set while `spec.rootfs` is still being mounted: the driver prepares what does not need
   * it (image, page server, hooks) meanwhile and waits for it before starting the sandbox.
   * A rejection fails the restore (with that error).
   */
  rootfsReady?: Promise<unknown>;
  /** Hostname of the restored sandbox when it differs from the image's (a new capsule from a snapshot). */
  hostname?: string;
  /**
   * Runs once the restored sandbox's namespaces exist, with the PID of its init: the moment
   * to plumb its network. With `socketsNeedNetwork` the processes (and their sockets) are
   * restored only after it resolved, so established TCP connections can be re-opened, and a
   * rejection fails the restore; without, it runs while they are restored and the caller
   * awaits its outcome.
   */
  onNamespacesReady?: (pid: number) => Promise<void>;
  signal?: AbortSignal;
}

export interface RestoredSandbox extends SandboxState {
  /**
   * Resolves once all of the sandbox's memory is back in place: at once for an eager
   * restore, when the page server finished for a lazy one. The image must stay until then.
   */
  pagesLoaded: Promise<void>;
}

export interface FreezeOptions {
  /**
   * A local port of the sandbox whose connections the caller has just closed from outside:
   * the freeze first waits (briefly) until the sandbox has closed its ends too, so that a
   * dump right after does not find them half-closed (a half-closed connection in an image
   * makes its restore lock the network).
   */
  closedPort?: number;
}

export interface Runtime {
  readonly name: string;
  /** Creates and starts the sandbox; resolves when its init process runs. */
  run(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxState>;
  state(id: string, signal?: AbortSignal): Promise<SandboxState | undefined>;
  /** Sends a signal to the sandbox's init process (all: every process in it). */
  kill(id: string, signal: 'SIGTERM' | 'SIGKILL', opts?: { all?: boolean }): Promise<void>;
  /** Removes the sandbox; force kills it first. Idempotent: unknown ids are not an error. */
  delete(id: string, opts?: { force?: boolean }): Promise<void>;
  /** Changes a running sandbox's CPU, memory and pids limits in place (warm-pool claims). */
  update(id: string, limits: ResourceLimits): Promise<void>;
  /** In-memory pause (cgroup freezer): cheap, seconds at most. Not a snapshot. */
  freeze(id: string, opts?: FreezeOptions): Promise<void>;
  thaw(id: string): Promise<void>;
  checkpoint(id: string, opts: CheckpointOptions): Promise<CheckpointResult>;
  restore(spec: SandboxSpec, opts: RestoreOptions): Promise<RestoredSandbox>;
  stats(id: string): Promise<SandboxStats>;
  /** Ids of every sandbox this runtime knows on the host (for leftover cleanup). */
  list(): Promise<string[]>;
}

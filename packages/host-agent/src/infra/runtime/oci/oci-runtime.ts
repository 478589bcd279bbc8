/**
 * The OCI runtime driver: runs capsules with runc from a generated config.json.
 * runc keeps its state under `<dataDir>/runc` (--root), so our containers are separate from
 * anything else on the host; every capsule's cgroup is `/<cgroupParent>/<id>`.
 *
 * Operations on one capsule must be serialised by the caller (docs/decisions.md#h2); the driver itself keeps
 * no per-capsule state in memory, so a restarted agent sees everything through runc and
 * the cgroup tree.
 *
 * @example
 * const runtime = new OciRuntime({ dataDir: '/var/lib/wrenn', logger });
 * const { pid } = await runtime.run(spec, AbortSignal.timeout(30_000));
 * await runtime.delete(spec.id);
 */
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sleep, WrennError, type Logger } from '@wrenn/shared';
import type { CgroupLayout } from '../../cgroup/layout.js';
import { listChildCgroups, removeCgroup } from '../../cgroup/remove.js';
import { readCgroupStats } from '../../cgroup/stats.js';
import { freezeCgroup } from '../../cgroup/freeze.js';
import { openConnectionsOnPort } from '../../net/socket-inventory.js';
import type {
  CheckpointOptions,
  CheckpointResult,
  FreezeOptions,
  ResourceLimits,
  RestoreOptions,
  RestoredSandbox,
  Runtime,
  SandboxSpec,
  SandboxState,
  SandboxStats,
  SandboxStatus,
} from '../runtime.js';
import { startLazyPagesDaemon, type LazyPagesDaemon } from '../../criu/lazy-pages.js';
import { writeBundleCriuConfig } from '../../criu/runc-criu-config.js';
import { run } from '../../exec.js';
import { unmountAllUnder } from '../../rootfs/mount.js';
import { describeDeadline, withCriuErrors } from './criu-errors.js';
import { probeDriverFacts, type DriverFacts } from './driver-facts.js';
import { readPid, waitForExit, withinMs } from './process-wait.js';
import { readRuncState } from './runc-state.js';
import { makeImageReadable, prepareImageDir } from './image-dir.js';
import type { OciHook } from './oci-spec.js';
import { createRestoreHook } from './restore-hook.js';
import * as argv from './runc-args.js';
import { errorLines, RuncCli, runcError } from './runc-cli.js';
import { checkpointSandbox } from './checkpoint.js';
import { buildOciSpec, capsuleCgroupPath, isValidSandboxId, CPU_PERIOD_US } from './spec.js';

export interface OciRuntimeOptions {
  /** Agent data dir; runc state goes to `<dataDir>/runc`. */
  dataDir: string;
  logger: Logger;
  /** runc binary (default: `runc` from PATH). */
  runcPath?: string;
  /** CRIU binary or wrapper for checkpoint/restore (default: runc's own default, `criu`). */
  criuPath?: string;
  /** Parent cgroup of every capsule (default "wrenn"). */
  cgroupParent?: string;
  /** Deadline for short runc commands (state, kill, pause, delete); default 60 s (docs/decisions.md#h4). */
  commandTimeoutMs?: number;
  /**
   * Shared object preloaded into `criu lazy-pages` (scripts/criu/lazy-pages-shim.c): its
   * background copying then yields to page faults, and no fault is left waiting. Absent:
   * CRIU as it is.
   */
  lazyPagesPreload?: string;
}

/** Files the driver writes into a sandbox's bundle dir. */
export const BUNDLE_FILES = { config: 'config.json', pid: 'init.pid', log: 'runc.log' } as const;

/** The longest a freeze waits for the sandbox to close connections its caller closed (FreezeOptions.closedPort). */
const CLOSE_SETTLE_MS = 50;

const STATUSES: ReadonlySet<string> = new Set(['creating', 'created', 'running', 'paused', 'stopped']);

export class OciRuntime implements Runtime {
  readonly name = 'oci-runc';
  readonly runcRoot: string;
  private readonly cli: RuncCli;
  private readonly log: Logger;
  private readonly cgroupParent: string;
  private readonly commandTimeoutMs: number;
  private hostFacts?: Promise<DriverFacts>;

  constructor(private readonly opts: OciRuntimeOptions) {
    this.runcRoot = join(opts.dataDir, 'runc');
    this.cli = new RuncCli(opts.runcPath ?? 'runc');
    this.log = opts.logger.child({ component: 'oci-runtime' });
    this.cgroupParent = opts.cgroupParent ?? 'wrenn';
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 60_000;
  }

  /** The capsule's cgroup path (relative to each hierarchy's root). */
  cgroupPath(id: string): string {
    return capsuleCgroupPath(id, this.cgroupParent);
  }

  /** The host's cgroup layout (detected once). */
  async cgroupLayout(): Promise<CgroupLayout> {
    return (await this.facts()).layout;
  }

  async run(spec: SandboxSpec, signal?: AbortSignal): Promise<SandboxState> {
    const started = Date.now();
    await this.writeBundle(spec);
    const pidFile = join(spec.bundleDir, BUNDLE_FILES.pid);
    const logFile = join(spec.bundleDir, BUNDLE_FILES.log);
    const args = argv.runArgs(this.globals(logFile), { id: spec.id, bundleDir: spec.bundleDir, pidFile });
    const pid = await this.startDetached(spec.id, args, 'runc run', { logFile, pidFile }, signal ? { signal } : {});
    this.log.info({ capsuleId: spec.id, pid, durationMs: Date.now() - started }, 'sandbox started');
    return { id: spec.id, status: 'running', pid };
  }

  async state(id: string, signal?: AbortSignal): Promise<SandboxState | undefined> {
    const res = await this.cli.call(argv.stateArgs(this.globals(), id), `runc state ${id}`, this.callOpts(signal, true));
    if (res.code !== 0) {
      if (/does not exist/.test(res.stderr)) return undefined;
      throw runcError(`runc state ${id}`, errorLines(res.stderr), res.code);
    }
    const raw = JSON.parse(res.stdout) as { id: string; pid: number; status: string };
    const status: SandboxStatus = STATUSES.has(raw.status) ? (raw.status as SandboxStatus) : 'unknown';
    return { id: raw.id, status, pid: status === 'stopped' ? 0 : raw.pid };
  }

  async kill(id: string, signal: 'SIGTERM' | 'SIGKILL', opts: { all?: boolean } = {}): Promise<void> {
    try {
      await this.cli.call(argv.killArgs(this.globals(), id, signal, opts.all ?? false), `runc kill ${id}`, this.callOpts());
    } catch (err) {
      // Signalling a sandbox whose processes are already gone has nothing left to do.
      if (err instanceof WrennError && /container not running/.test(err.message)) return;
      throw err;
    }
  }

  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    if (!isValidSandboxId(id)) throw new WrennError('invalid_argument', `invalid sandbox id ${JSON.stringify(id)}`);
    const started = Date.now();
    const force = opts.force ?? true;
    // A restore killed half-way leaves runc's bind of the rootfs (criu-root) in its state
    // dir, which would keep the state dir and the capsule's disk busy.
    await unmountAllUnder(join(this.runcRoot, id), { lazy: true });
    const current = await this.state(id);
    if (current && force && current.status !== 'stopped') {
      // `runc delete --force` sleeps 100 ms before it first checks whether its SIGKILL
      // landed; killing and waiting here makes a destroy ~4x faster.
      await this.kill(id, 'SIGKILL');
      await waitForExit(current.pid, Math.min(this.commandTimeoutMs, 5000));
    }
    if (current) {
      const res = await this.cli.call(argv.deleteArgs(this.globals(), id, force), `runc delete ${id}`, this.callOpts(undefined, true));
      if (res.code !== 0 && !/does not exist/.test(res.stderr)) throw runcError(`runc delete ${id}`, errorLines(res.stderr), res.code);
    }
    // runc removes its state and the cgroup it created; these also cover a start killed
    // half-way (state dir without state.json, which runc itself cannot delete).
    await rm(join(this.runcRoot, id), { recursive: true, force: true });
    await removeCgroup((await this.facts()).layout, this.cgroupPath(id), { timeoutMs: this.commandTimeoutMs });
    this.log.info({ capsuleId: id, durationMs: Date.now() - started }, 'sandbox deleted');
  }

  async update(id: string, limits: ResourceLimits): Promise<void> {
    const { layout } = await this.facts();
    const memoryBytes = limits.memoryMb * 1024 * 1024;
    await this.cli.call(
      argv.updateArgs(this.globals(), id, {
        cpuPeriodUs: CPU_PERIOD_US,
        cpuQuotaUs: Math.max(1000, Math.round(limits.vcpus * CPU_PERIOD_US)),
        memoryBytes,
        ...(layout.swapAccounting ? { memorySwapBytes: memoryBytes } : {}),
        pidsLimit: limits.pidsMax,
      }),
      `runc update ${id}`,
      this.callOpts(),
    );
  }

  /** The cgroup freezer written directly (see cgroup/freeze.ts); `runc pause` where there is none. */
  async freeze(id: string, opts: FreezeOptions = {}): Promise<void> {
    const started = Date.now();
    if (opts.closedPort !== undefined) await this.awaitClosed(id, opts.closedPort);
    const settleMs = Date.now() - started;
    const { layout } = await this.facts();
    if (!(await freezeCgroup(layout, this.cgroupPath(id), { timeoutMs: this.commandTimeoutMs }))) {
      await this.cli.call(argv.pauseArgs(this.globals(), id), `runc pause ${id}`, this.callOpts());
    }
    this.log.debug({ capsuleId: id, settleMs, freezeMs: Date.now() - started - settleMs }, 'sandbox frozen');
  }

  /**
   * Waits until sandbox `id` has no open connection on local `port` left, for at most
   * CLOSE_SETTLE_MS (a peer's FIN crosses the veth in well under a millisecond; the wait
   * only covers the sandbox's process being scheduled to close its end). Gives up silently:
   * a connection still open then is dumped like any other.
   */
  private async awaitClosed(id: string, port: number): Promise<void> {
    const saved = await readRuncState(this.runcRoot, id);
    if (!saved) return;
    const deadline = Date.now() + CLOSE_SETTLE_MS;
    while (((await openConnectionsOnPort(saved.pid, port)) ?? 0) > 0 && Date.now() < deadline) await sleep(1);
  }

  async thaw(id: string): Promise<void> {
    await this.cli.call(argv.resumeArgs(this.globals(), id), `runc resume ${id}`, this.callOpts());
  }

  async checkpoint(id: string, opts: CheckpointOptions): Promise<CheckpointResult> {
    return checkpointSandbox({ cli: this.cli, runcRoot: this.runcRoot, log: this.log, globals: this.globals() }, id, opts);
  }

  /**
   * `runc restore -d` into `spec` (same id and bundle as the dumped sandbox). With
   * `lazyPages`, a `criu lazy-pages` daemon serves memory from the image on demand; it is
   * started first and owned here: killed if the restore fails, otherwise it exits by itself
   * once every page is delivered (`pagesLoaded`). Unless the image's sockets need the
   * network, the network stays unlocked and CRIU does not wait for `onNamespacesReady`
   * (together ~30 ms of a resume).
   */
  async restore(spec: SandboxSpec, opts: RestoreOptions): Promise<RestoredSandbox> {
    const started = Date.now();
    const workDir = opts.workDir ?? opts.imageDir;
    const lockNetwork = opts.socketsNeedNetwork ?? true;
    // Independent preparations, side by side: they are on the resume's critical path.
    const [readable, hookResult, daemonResult, rootfs] = await Promise.allSettled([
      // A shared image (snapshot template) was made readable when it was taken; only read.
      opts.workDir === undefined ? makeImageReadable(opts.imageDir) : Promise.resolve(),
      opts.onNamespacesReady ? createRestoreHook(spec.bundleDir, opts.onNamespacesReady, { wait: lockNetwork }) : Promise.resolve(undefined),
      (opts.workDir === undefined ? Promise.resolve() : prepareImageDir(opts.workDir)).then(() =>
        opts.lazyPages
          ? startLazyPagesDaemon(this.opts.criuPath ?? 'criu', opts.imageDir, {
              workDir,
              ...(this.opts.lazyPagesPreload ? { preload: this.opts.lazyPagesPreload } : {}),
              ...(opts.signal ? { signal: opts.signal } : {}),
            })
          : undefined,
      ),
      opts.rootfsReady ?? Promise.resolve(),
    ]);
    const hook = hookResult.status === 'fulfilled' ? hookResult.value : undefined;
    const daemon: LazyPagesDaemon | undefined = daemonResult.status === 'fulfilled' ? daemonResult.value : undefined;
    try {
      for (const r of [rootfs, readable, hookResult, daemonResult]) if (r.status === 'rejected') throw r.reason;
      await this.writeBundle(spec, { tcpClose: opts.tcpClose ?? false, lockNetwork, ...(hook ? { createRuntimeHook: hook.hook } : {}) });
    } catch (err) {
      await Promise.all([hook?.close(), daemon?.kill()]);
      throw err;
    }
    const pidFile = join(spec.bundleDir, BUNDLE_FILES.pid);
    const logFile = join(spec.bundleDir, BUNDLE_FILES.log);
    const args = argv.restoreArgs(this.globals(logFile), {
      id: spec.id,
      bundleDir: spec.bundleDir,
      pidFile,
      imageDir: opts.imageDir,
      ...(opts.workDir !== undefined ? { workDir: opts.workDir } : {}),
      ...(opts.tcpEstablished !== undefined ? { tcpEstablished: opts.tcpEstablished } : {}),
      ...(opts.lazyPages ? { lazyPages: true } : {}),
    });
    let pid: number;
    const prepareMs = Date.now() - started;
    const spawnedAt = Date.now();
    try {
      pid = await this.startDetached(spec.id, args, 'runc restore', { logFile, pidFile }, {
        ...(opts.signal ? { signal: opts.signal } : {}),
        ...(opts.timeoutMs !== undefined ? { timeoutMs: opts.timeoutMs } : {}),
      });
    } catch (err) {
      await Promise.all([daemon?.kill(), hook?.close()]);
      // The hook's own failure (e.g. the network could not be plumbed) says more than CRIU's.
      const hookErr = hook && lockNetwork ? await Promise.race([hook.done.then(() => undefined, (e: unknown) => e), Promise.resolve(undefined)]) : undefined;
      throw hookErr ?? (await withCriuErrors(describeDeadline(err, `restore of ${spec.id}`, opts.timeoutMs), workDir, 'restore.log'));
    }
    // runc returned after its hook, so the state is in the FIFO (or read already); a hook
    // that did not wait may not have been seen yet, and the network depends on it.
    const hookCalled = hook ? await withinMs(hook.called, 5000, `runc restore of ${spec.id} never called its createRuntime hook`) : undefined;
    await hook?.close();
    const runcMs = Date.now() - spawnedAt;
    try {
      if (hookCalled) throw hookCalled;
      // Later checkpoints of this container read the same file: they must keep connections.
      if (opts.tcpClose) await writeBundleCriuConfig(spec.bundleDir, { tcpClose: false });
      // CRIU restores the UTS namespace's name from the image, after the hook ran.
      if (opts.hostname !== undefined) await run('nsenter', [`--uts=/proc/${pid}/ns/uts`, 'hostname', opts.hostname], opts.signal ? { signal: opts.signal } : {});
    } catch (err) {
      await daemon?.kill();
      await this.cleanupAfterFailedStart(spec.id);
      throw err;
    }
    const pagesLoaded = daemon
      ? daemon.exited.then(({ code, signal }) => {
          if (code !== 0) this.log.warn({ capsuleId: spec.id, code, signal }, 'criu lazy-pages ended with an error');
        })
      : Promise.resolve();
    const hookTimes = hook?.timings.calledAt ? { hookCalledMs: hook.timings.calledAt - spawnedAt, hookMs: (hook.timings.finishedAt ?? Date.now()) - hook.timings.calledAt } : {};
    this.log.info(
      { capsuleId: spec.id, pid, lazyPages: Boolean(daemon), networkLocked: lockNetwork, prepareMs, runcMs, ...hookTimes, durationMs: Date.now() - started },
      'sandbox restored',
    );
    return { id: spec.id, status: 'running', pid, pagesLoaded };
  }

  async stats(id: string): Promise<SandboxStats> {
    return readCgroupStats((await this.facts()).layout, this.cgroupPath(id));
  }

  /**
   * Every sandbox with runc state under our root (also half-written state from a start that
   * was killed), plus cgroups under our parent with no runc state at all: `delete(id)`
   * cleans up each kind.
   */
  async list(): Promise<string[]> {
    const { layout } = await this.facts();
    const stateDirs = (await readdir(this.runcRoot, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name);
    const cgroups = await listChildCgroups(layout, `/${this.cgroupParent}`);
    return [...new Set([...stateDirs, ...cgroups])].filter(isValidSandboxId).sort();
  }

  /**
   * Runs `runc run/restore -d` and returns the init pid; on any failure nothing is left
   * behind. runc (and the CRIU a restore starts) is one process group, killed together
   * when the signal aborts or the deadline passes.
   */
  private async startDetached(
    id: string,
    args: string[],
    what: string,
    files: { logFile: string; pidFile: string },
    opts: { signal?: AbortSignal; timeoutMs?: number } = {},
  ): Promise<number> {
    try {
      await rm(files.pidFile, { force: true });
      await this.cli.callDetached(args, what, files.logFile, { ...opts, processGroup: true });
      return await readPid(files.pidFile);
    } catch (err) {
      // Never tear down a sandbox that already existed under this id.
      if (!(err instanceof WrennError && err.code === 'already_exists')) await this.cleanupAfterFailedStart(id);
      throw err;
    }
  }

  /** A failed or cancelled start may leave runc state, a half-made cgroup or a stuck `runc init`. */
  private async cleanupAfterFailedStart(id: string): Promise<void> {
    try {
      await this.delete(id);
    } catch (err) {
      this.log.error({ capsuleId: id, err }, 'cleanup after a failed start failed');
    }
  }

  /** config.json; runc reads the CRIU config named in it at run (for later checkpoints) and at restore. */
  private async writeBundle(spec: SandboxSpec, opts: { tcpClose?: boolean; lockNetwork?: boolean; createRuntimeHook?: OciHook } = {}): Promise<void> {
    const { layout, nofileHard, nprocPerUserNamespace } = await this.facts();
    const criuConfigPath = await writeBundleCriuConfig(spec.bundleDir, { tcpClose: opts.tcpClose ?? false, lockNetwork: opts.lockNetwork ?? true });
    const config = buildOciSpec(spec, {
      cgroupsPath: this.cgroupPath(spec.id),
      limitSwap: layout.swapAccounting,
      nofileHard,
      pidsReserve: nprocPerUserNamespace,
      criuConfigPath,
    });
    if (opts.createRuntimeHook) config.hooks = { createRuntime: [opts.createRuntimeHook] };
    await writeFile(join(spec.bundleDir, BUNDLE_FILES.config), JSON.stringify(config), { mode: 0o600 });
  }

  private globals(logFile?: string): argv.RuncGlobalOptions {
    return {
      root: this.runcRoot,
      ...(this.opts.criuPath !== undefined ? { criuPath: this.opts.criuPath } : {}),
      ...(logFile !== undefined ? { logFile } : {}),
    };
  }

  private callOpts(signal?: AbortSignal, allowFailure = false) {
    return { timeoutMs: this.commandTimeoutMs, allowFailure, ...(signal ? { signal } : {}) };
  }

  private facts(): Promise<DriverFacts> {
    this.hostFacts ??= probeDriverFacts(this.runcRoot, this.opts.dataDir, this.log);
    // A failed detection (e.g. transient fs error) is retried on the next call.
    this.hostFacts.catch(() => (this.hostFacts = undefined));
    return this.hostFacts;
  }

}

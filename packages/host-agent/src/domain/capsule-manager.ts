/**
 * The capsules of this host: create, destroy, find, and recover after an agent restart.
 * Every operation on one capsule is serialised (KeyedQueue, H2); different capsules never
 * wait on each other. Status changes happen only inside the capsule's queue.
 */
import { freemem, totalmem } from 'node:os';
import { randomBytes } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import { join } from 'node:path';
import { KeyedQueue, WrennError, type Logger } from '@wrenn/shared';
import type { TemplateInfo } from '../infra/rootfs/layers.js';
import { upperImageSizeBytes } from '../infra/rootfs/ext4-image.js';
import type { Runtime } from '../infra/runtime/runtime.js';
import { EnvdClient } from '../infra/envd/envd-client.js';
import type { AgentConfig } from '../start/config.js';
import { assertRunning, validateCapsuleId, type CapsuleRecord } from './capsule-record.js';
import { CapsuleStore } from './capsule-store.js';
import { launchCapsule, newAccessToken, runtimeSpec, writeIdentityFiles, type LauncherDeps } from './capsule-launcher.js';
import { CapsuleWatchers, type WatchedCapsule } from './capsule-watchers.js';
import type { MetricsRange, MetricSample } from './metrics/tiers.js';
import type { EnvdLaunch, NetworkPort, ProxiedConnectionsPort, RootfsPort, TemplatePort } from './ports.js';
import { WarmPool } from './warm-pool.js';
import { execCommand } from './process-ops.js';
import { DEFAULT_PAUSE_TIMEOUT_MS, PauseController } from './pause/pause-controller.js';
import type { PauseDeps, PauseKind, PauseSetup, SnapshotTemplateSetup } from './pause/pause-types.js';
import { launchFromSnapshot } from './snapshot-templates/create-from-snapshot.js';
import { cloneRecord, cloneShape, listedBase, listedSnapshot, type ListedTemplate } from './snapshot-templates/snapshot-capsule.js';
import type { SnapshotTemplateInfo } from './snapshot-templates/snapshot-template-types.js';
import { SnapshotTemplates } from './snapshot-templates/snapshot-templates.js';

export interface CreateCapsuleRequest {
  capsuleId: string;
  /** A base template, or a snapshot template (the capsule continues from its memory). */
  template: string;
  /** 0 = the template's default (1, or the snapshot's). */
  vcpus: number;
  /** 0 = the template's default (512, or the snapshot's). */
  memoryMb: number;
  /** 0 = the configured default. */
  diskSizeMb: number;
  envs: Record<string, string>;
  metadata: Record<string, string>;
  lifetimeSec: number;
  /** Pause after this many seconds without activity; 0/absent = never. */
  autoPauseSec?: number;
  egress: boolean;
  defaultUser?: string;
  workdir?: string;
}

interface LiveCapsule extends WatchedCapsule {
  envd?: EnvdClient;
}

export interface ManagerDeps {
  config: AgentConfig;
  logger: Logger;
  templates: TemplatePort;
  rootfs: RootfsPort;
  network: NetworkPort;
  runtime: Runtime;
  envd: EnvdLaunch;
  /** Pause/resume (memory snapshots or filesystem-only); without it Pause is refused. */
  pause?: PauseSetup;
  /** The port proxy's connections: a pause drains them, a destroy closes them. */
  connections?: ProxiedConnectionsPort;
}

const MAX_VCPUS_PER_CAPSULE = 64;
/** Shape of a capsule from a base template when the request leaves it open. */
const DEFAULT_VCPUS = 1;
const DEFAULT_MEMORY_MB = 512;
/** How long after a claim the warm pool starts the replacement capsule. */
const WARM_REFILL_DELAY_MS = 500;
/** Commands run in a new warm capsule so its envd has compiled its hot paths before a claim. */
const WARM_UP_EXECS = 10;
/** Memory limits are caps, not reservations: allow this much total against host memory. */
const MEMORY_OVERCOMMIT = 2;

export class CapsuleManager {
  private readonly capsules = new Map<string, LiveCapsule>();
  private readonly queue = new KeyedQueue();
  readonly store: CapsuleStore;
  private readonly launcher: LauncherDeps;
  private warmPool: WarmPool | undefined;
  /** Pause and resume; undefined when the agent was built without them. */
  readonly pauser: PauseController | undefined;
  /** Snapshot templates; undefined when the agent was built without them. */
  readonly snapshotTemplates: SnapshotTemplates | undefined;
  private readonly pauseDeps: PauseDeps | undefined;
  /** Metrics sampler, lifetime timer and auto-pause of each running capsule. */
  private readonly watchers: CapsuleWatchers;
  /** Shape every warm capsule is started with; a claim adjusts CPU and memory in place. */
  static readonly WARM_SHAPE = { vcpus: 1, memoryMb: 512 } as const;

  constructor(private readonly deps: ManagerDeps) {
    this.store = new CapsuleStore(deps.config.dataDir);
    this.launcher = { ...deps, store: this.store };
    this.pauseDeps = deps.pause ? this.createPauseDeps(deps.pause) : undefined;
    this.pauser = this.pauseDeps ? new PauseController(this.pauseDeps) : undefined;
    const snapshotSetup = deps.pause?.snapshotTemplates;
    this.snapshotTemplates = this.pauseDeps && snapshotSetup ? this.createSnapshotTemplates(this.pauseDeps, snapshotSetup) : undefined;
    this.watchers = new CapsuleWatchers({
      runtime: deps.runtime,
      rootfs: deps.rootfs,
      capsuleDir: (runtimeId) => this.store.dirOf(runtimeId),
      logger: deps.logger,
      expire: (id) => this.destroy(id),
      ...(this.pauser ? { autoPause: async (id: string) => void (await this.pause(id)) } : {}),
    });
  }

  private createSnapshotTemplates(pauseDeps: PauseDeps, setup: SnapshotTemplateSetup): SnapshotTemplates {
    return new SnapshotTemplates(
      {
        ...pauseDeps,
        logger: this.deps.logger.child({ component: 'snapshot-templates' }),
        baseTemplates: setup.baseTemplates,
        disk: setup.disk,
        writeIdentity: (rootfsDir, hostname) => writeIdentityFiles(rootfsDir, hostname, this.deps.config.uidBase),
        prepareBundle: async (runtimeId) => {
          // 0711: the capsule's mapped root must traverse to its rootfs.
          await fsp.mkdir(join(this.store.dirOf(runtimeId), 'bundle'), { recursive: true, mode: 0o711 });
          await fsp.chmod(this.store.dirOf(runtimeId), 0o711);
        },
        removeRecord: (runtimeId) => this.store.remove(runtimeId),
      },
      setup.root,
    );
  }

  private createPauseDeps(setup: PauseSetup): PauseDeps {
    const { config } = this.deps;
    return {
      ...setup,
      logger: this.deps.logger.child({ component: 'pause' }),
      runtime: this.deps.runtime,
      templates: this.deps.templates,
      envdPort: this.deps.envd.port,
      sandboxSpec: (record, rootfsDir) => runtimeSpec(this.launcher, record, rootfsDir),
      capsuleDir: (runtimeId) => this.store.dirOf(runtimeId),
      plumbOptions: (record) => ({ egress: record.egress, rateBytesPerSec: config.netRateBytesPerSec, burstBytes: config.netBurstBytes }),
      saveRecord: (record) => this.store.save(record),
      startWatchers: (capsule) => this.watchers.start(capsule as LiveCapsule),
      stopWatchers: (capsule) => this.watchers.stop(capsule as LiveCapsule),
      snapshotDir: config.snapshotDir,
      prepareTimeoutMs: config.snapshotPrepareTimeoutMs,
      drainGraceMs: config.pauseDrainGraceMs,
      drain: setup.drain ?? this.deps.connections?.drain,
      envdStartTimeoutMs: config.envdStartTimeoutMs,
    };
  }

  // ---- queries ----------------------------------------------------------------------

  get(id: string): CapsuleRecord {
    const live = this.capsules.get(id);
    if (!live || live.record.warm) {
      throw new WrennError('capsule_not_found', `capsule ${id} does not exist on this host`, { capsuleId: id });
    }
    return live.record;
  }

  list(): CapsuleRecord[] {
    return [...this.capsules.values()].map((c) => c.record).filter((r) => !r.warm);
  }

  /** The envd client of a running capsule; counts as activity. */
  envdOf(id: string, operation: string): EnvdClient {
    const record = this.get(id);
    assertRunning(record, operation);
    const live = this.capsules.get(id)!;
    live.lastActivityMs = Date.now();
    return live.envd!;
  }

  /** Where proxied traffic to a running capsule goes; counts as activity. */
  proxyTarget(id: string): { address: string } {
    const record = this.get(id);
    assertRunning(record, 'proxy traffic to');
    this.capsules.get(id)!.lastActivityMs = Date.now();
    return { address: record.address };
  }

  /** Activity that is not a call (proxied bytes flowing): delays auto-pause. */
  touch(id: string): void {
    const live = this.capsules.get(id);
    if (live) live.lastActivityMs = Date.now();
  }

  /** Pre-started capsules waiting in the warm pool. */
  warmCapsules(): CapsuleRecord[] {
    return [...this.capsules.values()].map((c) => c.record).filter((r) => r.status === 'warm');
  }

  lastActivity(id: string): number {
    return this.capsules.get(id)?.lastActivityMs ?? 0;
  }

  metrics(id: string, range: MetricsRange): MetricSample[] {
    this.get(id);
    return this.capsules.get(id)?.sampler?.history.query(range) ?? [];
  }

  // ---- create -----------------------------------------------------------------------

  private validate(req: CreateCapsuleRequest, template: TemplateInfo): number {
    this.checkShape(req.vcpus, req.memoryMb);
    const requested = req.diskSizeMb > 0 ? req.diskSizeMb * 1024 * 1024 : this.deps.config.defaultRootfsSizeBytes;
    if (req.diskSizeMb < 0 || !Number.isInteger(req.diskSizeMb)) {
      throw new WrennError('invalid_argument', `disk_size_mb must be a non-negative integer, got ${req.diskSizeMb}`);
    }
    // H6: the writable layer is never smaller than the template (same rule the rootfs applies).
    return upperImageSizeBytes(requested, template.sizeBytes);
  }

  /** CPU and memory in range, and room for them on this host. */
  private checkShape(vcpus: number, memoryMb: number): void {
    if (!(vcpus > 0 && vcpus <= MAX_VCPUS_PER_CAPSULE)) {
      throw new WrennError('invalid_argument', `vcpus must be > 0 and ≤ ${MAX_VCPUS_PER_CAPSULE}, got ${vcpus}`);
    }
    if (!Number.isInteger(memoryMb) || memoryMb < 64) {
      throw new WrennError('invalid_argument', `memory_mb must be an integer ≥ 64, got ${memoryMb}`);
    }
    if (vcpus > this.deps.config.vcpusTotal) {
      throw new WrennError('host_at_capacity', `vcpus ${vcpus} exceeds this host's ${this.deps.config.vcpusTotal} cores`);
    }
    const hostMb = Math.floor(totalmem() / 1024 / 1024);
    if (memoryMb > hostMb) {
      throw new WrennError('host_at_capacity', `memory_mb ${memoryMb} exceeds this host's ${hostMb} MB of memory`);
    }
    const committedMb = this.list().reduce((a, r) => a + r.memoryMb, 0);
    if (committedMb + memoryMb > hostMb * MEMORY_OVERCOMMIT) {
      throw new WrennError(
        'host_at_capacity',
        `host memory is fully committed (${committedMb} MB to running capsules, ${Math.floor(freemem() / 1048576)} MB free); destroy or pause capsules, or ask for less memory`,
      );
    }
  }

  async create(request: CreateCapsuleRequest, signal?: AbortSignal): Promise<CapsuleRecord> {
    validateCapsuleId(request.capsuleId);
    return this.queue.run(request.capsuleId, async () => {
      const existing = this.capsules.get(request.capsuleId);
      if (existing) {
        // A retried Create (same id) returns the capsule instead of making a second one.
        if (existing.record.template === request.template) return existing.record;
        throw new WrennError('already_exists', `capsule ${request.capsuleId} already exists with template ${existing.record.template}`);
      }
      if (this.snapshotTemplates && (await this.snapshotTemplates.find(request.template))) {
        return this.startFromSnapshot(this.snapshotTemplates, request, signal);
      }
      const req = { ...request, vcpus: request.vcpus || DEFAULT_VCPUS, memoryMb: request.memoryMb || DEFAULT_MEMORY_MB };
      const template = await this.deps.templates.get(req.template);
      const diskSizeBytes = this.validate(req, template);
      const claimed = await this.claimWarm(req, diskSizeBytes);
      if (claimed) return claimed;
      return this.startCold(req.capsuleId, req.capsuleId, 'starting', req, template, diskSizeBytes, signal);
    });
  }

  private async startCold(
    id: string,
    runtimeId: string,
    status: 'starting' | 'warm',
    req: Omit<CreateCapsuleRequest, 'capsuleId'>,
    template: TemplateInfo,
    diskSizeBytes: number,
    signal?: AbortSignal,
  ): Promise<CapsuleRecord> {
    const slot = this.deps.network.allocate();
    const record: CapsuleRecord = {
      id,
      runtimeId,
      status,
      template: req.template,
      vcpus: req.vcpus,
      memoryMb: req.memoryMb,
      diskSizeBytes,
      netSlot: slot.index,
      address: slot.guestIp,
      envdAccessToken: newAccessToken(),
      createdAtMs: Date.now(),
      expiresAtMs: req.lifetimeSec > 0 ? Date.now() + req.lifetimeSec * 1000 : 0,
      ...(req.autoPauseSec ? { autoPauseSec: req.autoPauseSec } : {}),
      metadata: req.metadata,
      envs: req.envs,
      defaultUser: req.defaultUser || template.defaultUser,
      workdir: req.workdir || template.defaultWorkdir,
      egress: req.egress,
      fromWarmPool: false,
      ...(status === 'warm' ? { warm: true } : {}),
    };
    // Claimable only once it runs: 'warm' is set after the launch succeeded.
    record.status = 'starting';
    const live: LiveCapsule = { record, lastActivityMs: Date.now() };
    this.capsules.set(record.id, live);
    try {
      const launched = await launchCapsule(this.launcher, record, template, slot, signal);
      live.envd = launched.envd;
    } catch (err) {
      this.capsules.delete(record.id);
      this.deps.network.release(slot.index);
      throw err;
    }
    record.status = status === 'warm' ? 'warm' : 'running';
    if (record.status === 'running') this.watchers.start(live);
    await this.store.save(record);
    return record;
  }

  /**
   * A capsule continuing from a snapshot template's memory, with its own disk copy,
   * address, id and token (see snapshot-templates/create-from-snapshot.ts).
   */
  private async startFromSnapshot(snaps: SnapshotTemplates, req: CreateCapsuleRequest, signal?: AbortSignal): Promise<CapsuleRecord> {
    const source = await snaps.acquire(req.template);
    let pagesLoaded: Promise<void> | undefined;
    try {
      const shape = cloneShape(req, source.meta);
      this.checkShape(shape.vcpus, shape.memoryMb);
      const slot = this.deps.network.allocate();
      const record = cloneRecord(req, source.meta, shape, slot, newAccessToken());
      const live: LiveCapsule = { record, lastActivityMs: Date.now() };
      this.capsules.set(record.id, live);
      try {
        const launched = await launchFromSnapshot(snaps.deps, record, source, slot, (p) => (pagesLoaded = p), signal);
        live.envd = launched.envd;
      } catch (err) {
        this.capsules.delete(record.id);
        this.deps.network.release(slot.index);
        throw err;
      }
      if (pagesLoaded) this.pauser?.trackLoading(record.runtimeId, pagesLoaded);
      record.status = 'running';
      await this.store.save(record);
      this.watchers.start(live);
      return record;
    } finally {
      snaps.release(req.template, pagesLoaded);
    }
  }

  // ---- warm pool --------------------------------------------------------------------

  /** Starts keeping `targets` warm capsules per template (WRENN_WARM_POOL). */
  enableWarmPool(targets: Record<string, number>): void {
    if (Object.keys(targets).length === 0) return;
    this.warmPool?.stop();
    this.warmPool = new WarmPool(
      targets,
      {
        count: (template) => [...this.capsules.values()].filter((c) => c.record.warm && c.record.template === template).length,
        startOne: async (template) => {
          const runtimeId = CapsuleManager.randomId('warm-');
          const info = await this.deps.templates.get(template);
          await this.startCold(
            runtimeId,
            runtimeId,
            'warm',
            { template, ...CapsuleManager.WARM_SHAPE, diskSizeMb: 0, envs: {}, metadata: {}, lifetimeSec: 0, egress: true },
            info,
            upperImageSizeBytes(this.deps.config.defaultRootfsSizeBytes, info.sizeBytes),
          );
          // A fresh envd compiles its process-launch path over its first runs (~30 ms, then ~15): pay that
          // here, not in the first command of whoever claims the capsule.
          const envd = this.capsules.get(runtimeId)?.envd;
          for (let i = 0; envd && i < WARM_UP_EXECS; i++) await execCommand(envd, { cmd: 'true', args: [], envs: {} }, 10_000).catch(() => undefined);
        },
      },
      this.deps.logger.child({ component: 'warm-pool' }),
    );
    this.warmPool.kick();
  }

  /**
   * Hands a warm capsule to `req` when one fits (same template, default disk, same egress):
   * limits adjusted in place, envd re-initialised with the caller's envs, user, metadata
   * and a fresh access token. Any failure destroys the warm capsule and returns undefined
   * so the caller falls back to a cold start.
   */
  private async claimWarm(req: CreateCapsuleRequest, diskSizeBytes: number): Promise<CapsuleRecord | undefined> {
    if (!this.warmPool) return undefined;
    const live = [...this.capsules.values()].find(
      (c) => c.record.status === 'warm' && c.record.template === req.template && c.record.diskSizeBytes === diskSizeBytes && c.record.egress === req.egress,
    );
    if (!live) return undefined;
    const { record } = live;
    const warmId = record.id;
    this.capsules.delete(warmId);
    record.status = 'starting';
    const started = Date.now();
    // Refill a little later: starting the replacement competes for CPU with the caller's
    // first commands, which are what the warm pool exists to make fast.
    this.warmPool.kick(WARM_REFILL_DELAY_MS);
    try {
      if (record.vcpus !== req.vcpus || record.memoryMb !== req.memoryMb) {
        await this.deps.runtime.update(record.runtimeId, { vcpus: req.vcpus, memoryMb: req.memoryMb, pidsMax: this.deps.config.pidsMax });
      }
      const token = newAccessToken();
      await live.envd!.init({
        accessToken: token,
        envVars: req.envs,
        metadata: req.metadata,
        capsuleId: req.capsuleId,
        templateId: req.template,
        ...(req.defaultUser ? { defaultUser: req.defaultUser } : {}),
        ...(req.workdir ? { defaultWorkdir: req.workdir } : {}),
      });
      Object.assign(record, {
        id: req.capsuleId,
        vcpus: req.vcpus,
        memoryMb: req.memoryMb,
        envdAccessToken: token,
        envs: req.envs,
        metadata: req.metadata,
        defaultUser: req.defaultUser || record.defaultUser,
        workdir: req.workdir || record.workdir,
        createdAtMs: Date.now(),
        expiresAtMs: req.lifetimeSec > 0 ? Date.now() + req.lifetimeSec * 1000 : 0,
        autoPauseSec: req.autoPauseSec ?? 0,
        fromWarmPool: true,
        warm: false,
        status: 'running',
      } satisfies Partial<CapsuleRecord>);
      this.capsules.set(record.id, live);
      await this.store.save(record);
      this.watchers.start(live);
      this.deps.logger.info({ capsuleId: record.id, warmId, durationMs: Date.now() - started }, 'warm capsule claimed');
      return record;
    } catch (err) {
      this.deps.logger.warn({ capsuleId: req.capsuleId, warmId, err: (err as Error).message }, 'warm capsule claim failed; starting cold');
      await this.teardown(live).catch(() => {});
      return undefined;
    }
  }

  // ---- pause / resume ---------------------------------------------------------------

  /**
   * Snapshot and release a running capsule (see domain/pause). Pausing a paused capsule
   * returns it unchanged; any other state is capsule_busy.
   */
  async pause(id: string, kind?: PauseKind, signal?: AbortSignal): Promise<CapsuleRecord> {
    const pauser = this.requirePauser();
    return this.queue.run(id, async () => {
      const record = this.get(id);
      if (record.status === 'paused' && (kind === undefined || kind === record.pauseKind)) return record;
      assertRunning(record, 'pause');
      await pauser.pause(this.capsules.get(id)!, kind, signal);
      return record;
    });
  }

  /** Bring a paused capsule back; resuming a running capsule returns it unchanged. */
  async resume(id: string, signal?: AbortSignal): Promise<CapsuleRecord> {
    const pauser = this.requirePauser();
    return this.queue.run(id, async () => {
      const record = this.get(id);
      if (record.status === 'running') return record;
      if (record.status !== 'paused') {
        throw new WrennError('capsule_busy', `cannot resume capsule ${id}: it is ${record.status}${record.error ? ` (${record.error})` : ''}`, {
          capsuleId: id,
          status: record.status,
        });
      }
      const live = this.capsules.get(id)!;
      await pauser.resume(live, signal);
      live.lastActivityMs = Date.now();
      return record;
    });
  }

  private requirePauser(): PauseController {
    if (!this.pauser) throw new WrennError('failed_precondition', 'pause and resume are not enabled on this host agent');
    return this.pauser;
  }

  // ---- snapshot templates -----------------------------------------------------------

  /**
   * Saves a running capsule, memory included, as snapshot template `name` (generated when
   * empty); the capsule keeps running. Other operations on it meanwhile get capsule_busy.
   */
  async snapshot(id: string, name: string | undefined, opts: { overwrite?: boolean; signal?: AbortSignal } = {}): Promise<SnapshotTemplateInfo> {
    const snaps = this.requireSnapshotTemplates();
    const pauser = this.requirePauser();
    if (!pauser.support.memory) {
      throw new WrennError('failed_precondition', 'this host cannot take memory snapshots (criu check fails), so it cannot make snapshot templates');
    }
    return this.queue.run(id, async () => {
      const record = this.get(id);
      assertRunning(record, 'snapshot');
      const live = this.capsules.get(id)!;
      // A lazy restore still loading this capsule's memory: the dump must see all of it.
      await pauser.settledFor(record.runtimeId);
      record.status = 'snapshotting';
      await this.store.save(record);
      try {
        return await snaps.take(live, name || SnapshotTemplates.generatedName(id), { overwrite: opts.overwrite ?? false }, pauser.snapshots, opts.signal ?? AbortSignal.timeout(DEFAULT_PAUSE_TIMEOUT_MS));
      } finally {
        live.lastActivityMs = Date.now();
        if (record.status === 'snapshotting') {
          record.status = 'running';
          await this.store.save(record);
        }
      }
    });
  }

  /** Base templates and snapshot templates of this host. */
  async listTemplates(): Promise<ListedTemplate[]> {
    const snaps = this.requireSnapshotTemplates();
    const [base, snapshots] = await Promise.all([snaps.deps.baseTemplates.list(), snaps.list()]);
    return [...base.map(listedBase), ...snapshots.map(listedSnapshot)];
  }

  /** Deletes a snapshot template (base templates are not deleted through the agent's API). */
  async deleteTemplate(name: string): Promise<void> {
    const snaps = this.requireSnapshotTemplates();
    if (await snaps.find(name)) return snaps.delete(name);
    await snaps.deps.baseTemplates.get(name);
    throw new WrennError('failed_precondition', `${name} is a base template; DeleteTemplate deletes snapshot templates only`, { template: name });
  }

  private requireSnapshotTemplates(): SnapshotTemplates {
    if (!this.snapshotTemplates) throw new WrennError('failed_precondition', 'snapshot templates are not enabled on this host agent');
    return this.snapshotTemplates;
  }

  // ---- destroy ----------------------------------------------------------------------

  async destroy(id: string): Promise<void> {
    return this.queue.run(id, async () => {
      const live = this.capsules.get(id);
      if (!live) throw new WrennError('capsule_not_found', `capsule ${id} does not exist on this host`, { capsuleId: id });
      await this.teardown(live);
    });
  }

  /**
   * Releases everything a capsule holds, each step attempted even if an earlier one failed;
   * the record goes only when every step succeeded, so a retry (or the next agent start)
   * finishes the job.
   */
  private async teardown(live: LiveCapsule): Promise<void> {
    const { record } = live;
    const log = this.deps.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId });
    const started = Date.now();
    // A pause still releasing this capsule's mounts and network: after it, not beside it.
    await this.pauser?.releasedFor(record.runtimeId);
    record.status = 'stopping';
    this.watchers.stop(live);
    live.envd?.close();
    this.deps.connections?.close(record.id);
    const failures: string[] = [];
    const step = async (name: string, fn: () => Promise<unknown>) => {
      try {
        await fn();
      } catch (err) {
        failures.push(`${name}: ${(err as Error).message}`);
      }
    };
    await step('runtime', () => this.deps.runtime.delete(record.runtimeId, { force: true }));
    const slot = this.deps.network.slot(record.netSlot);
    await step('network', () => this.deps.network.unplumb(slot));
    await step('rootfs', () => this.deps.rootfs.remove(this.store.dirOf(record.runtimeId)));
    if (this.pauser) await step('snapshot', () => this.pauser!.discard(record.runtimeId));
    if (failures.length > 0) {
      record.status = 'error';
      record.error = `destroy incomplete: ${failures.join('; ')}`;
      await this.store.save(record).catch(() => {});
      log.error({ failures, durationMs: Date.now() - started }, 'capsule destroy incomplete');
      throw new WrennError('internal', `capsule ${record.id} could not be fully destroyed: ${failures.join('; ')}`);
    }
    await this.store.remove(record.runtimeId);
    this.deps.network.release(record.netSlot);
    this.capsules.delete(record.id);
    log.info({ durationMs: Date.now() - started }, 'capsule destroyed');
  }

  // ---- recovery ---------------------------------------------------------------------

  /**
   * After an agent (re)start: capsules still running are adopted again; anything left by a
   * capsule that died or by a create that crashed half-way is released.
   */
  async recover(): Promise<{ adopted: string[]; cleaned: string[] }> {
    const { records, orphanDirs } = await this.store.scan();
    const adopted: string[] = [];
    const cleaned: string[] = [];
    const known = new Set<string>();
    const interrupted = await this.snapshotTemplates?.recoverLeftovers().catch((err: unknown) => {
      this.deps.logger.warn({ err: (err as Error).message }, 'removing unfinished snapshot templates failed');
      return [];
    });
    if (interrupted?.length) cleaned.push(...interrupted);
    for (const record of records) {
      known.add(record.runtimeId);
      const slot = this.deps.network.reserve(record.netSlot);
      const live: LiveCapsule = { record, lastActivityMs: Date.now() };
      this.capsules.set(record.id, live);
      if (this.snapshotTemplates && record.status === 'snapshotting') {
        const outcome = await this.snapshotTemplates.recoverSource(live, this.pauser!.snapshots);
        (outcome === 'error' ? cleaned : adopted).push(record.id);
        continue;
      }
      if (this.pauser && (record.status === 'pausing' || record.status === 'paused' || record.status === 'resuming')) {
        const outcome = await this.pauser.recover(live);
        (outcome === 'error' ? cleaned : adopted).push(record.id);
        continue;
      }
      const state = await this.deps.runtime.state(record.runtimeId).catch(() => undefined);
      const alive = state && (state.status === 'running' || state.status === 'paused') && (record.status === 'running' || record.status === 'warm');
      if (alive) {
        const envd = new EnvdClient(slot.guestIp, this.deps.envd.port, record.envdAccessToken);
        if (await envd.health()) {
          live.envd = envd;
          if (state.status === 'paused') await this.deps.runtime.thaw(record.runtimeId).catch(() => {});
          if (record.status === 'running') this.watchers.start(live);
          adopted.push(record.id);
          continue;
        }
        envd.close();
      }
      await this.teardown(live).catch((err: unknown) =>
        this.deps.logger.error({ capsuleId: record.id, err: (err as Error).message }, 'cleanup of a dead capsule failed'),
      );
      cleaned.push(record.id);
    }
    for (const runtimeId of orphanDirs) {
      known.add(runtimeId);
      await this.deps.runtime.delete(runtimeId, { force: true }).catch(() => {});
      await this.deps.rootfs.remove(this.store.dirOf(runtimeId)).catch(() => {});
      await this.store.remove(runtimeId);
      cleaned.push(runtimeId);
    }
    for (const runtimeId of await this.deps.runtime.list().catch(() => [] as string[])) {
      if (known.has(runtimeId)) continue;
      await this.deps.runtime.delete(runtimeId, { force: true }).catch(() => {});
      cleaned.push(runtimeId);
    }
    const live = new Set([...this.capsules.values()].map((c) => c.record.runtimeId));
    if (this.pauser) cleaned.push(...(await this.pauser.removeOrphans(live).catch(() => [] as string[])));
    this.deps.logger.info({ adopted: adopted.length, cleaned: cleaned.length }, 'recovered capsules from disk');
    return { adopted, cleaned };
  }

  /** Stops timers and connections; capsules keep running (a restarted agent adopts them). */
  close(): void {
    this.warmPool?.stop();
    for (const live of this.capsules.values()) {
      this.watchers.stop(live);
      live.envd?.close();
    }
  }

  /** Destroys every capsule (tests and `wrenn-agent --destroy-all`). */
  async destroyAll(): Promise<void> {
    this.warmPool?.stop();
    await Promise.allSettled([...this.capsules.keys()].map((id) => this.destroy(id)));
  }

  static randomId(prefix: string): string {
    return `${prefix}${randomBytes(4).toString('hex')}`;
  }
}

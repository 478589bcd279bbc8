/**
 * The capsules of this host, as the RPC layer sees them: queries, and each operation run
 * in its capsule's queue (docs/decisions.md#h2) and handed to the module that does it — create
 * (lifecycle/create.ts), destroy (lifecycle/destroy.ts), recover (lifecycle/recover.ts), pause
 * and resume (pause/), snapshot templates (snapshot-templates/). Status changes go through
 * CapsuleRegistry.transition only.
 *
 * @example
 * const manager = new CapsuleManager({ logger, settings, host, runtime, network, rootfs, templates, envd, envdLaunch, disk });
 * await manager.recover();
 * const record = await manager.create({ capsuleId: 'cl-1', template: 'minimal' });
 */
import { WrennError, type Logger } from '@wrenn/shared';
import { assertRunning, busy, validateCapsuleId, type CapsuleRecord, type PauseKind } from './capsule-record.js';
import { CapsuleStore } from './capsule-store.js';
import { CapsuleWatchers } from './capsule-watchers.js';
import { createCapsule } from './lifecycle/create.js';
import { createSpec, type CreateCapsuleRequest } from './lifecycle/create-rules.js';
import { destroyCapsule } from './lifecycle/destroy.js';
import { restartCapsule } from './lifecycle/restart.js';
import { EnvdSupervisor } from './capsules/envd-supervisor.js';
import type { CapsuleKit, CapsuleSettings } from './capsules/kit.js';
import { recoverCapsules, type Recovered } from './lifecycle/recover.js';
import { CapsuleRegistry } from './capsules/registry.js';
import { WarmCapsules } from './lifecycle/warm.js';
import type { MetricsRange, MetricSample } from './metrics/tiers.js';
import { DEFAULT_PAUSE_TIMEOUT_MS, PauseController } from './pause/pause-controller.js';
import type {
  EnvdClient,
  EnvdConnector,
  EnvdGuardPort,
  EnvdLaunch,
  HostFacts,
  EgressResolverPort,
  NetworkPort,
  ProxiedConnectionsPort,
  RootfsPort,
  Runtime,
  SnapshotDiskPort,
  TemplatePort,
  VolumePort,
} from './ports.js';
import { checkedEgressRules, domainsOf, type EgressRules } from '../infra/net/egress-domains.js';
import { plumbOptions } from './capsules/kit.js';
import { listedBase, listedSnapshot, type ListedTemplate } from './snapshot-templates/listing.js';
import type { SnapshotTemplateInfo } from './snapshot-templates/snapshot-template-types.js';
import { SnapshotTemplates } from './snapshot-templates/snapshot-templates.js';

export type { CreateCapsuleRequest };

export interface ManagerDeps {
  logger: Logger;
  settings: CapsuleSettings;
  host: HostFacts;
  runtime: Runtime;
  network: NetworkPort;
  rootfs: RootfsPort;
  templates: TemplatePort;
  envd: EnvdConnector;
  envdLaunch: EnvdLaunch;
  disk: SnapshotDiskPort;
  /** The port proxy's connections: a pause drains them, a destroy closes them. */
  connections?: ProxiedConnectionsPort;
  /** Resolves domain names of egress allow lists; without it such names are refused. */
  egressResolver?: EgressResolverPort;
  volumes?: VolumePort;
  /** envd protection and liveness (infra/runtime/envd-guard.ts); absent: envd is not supervised. */
  envdGuard?: EnvdGuardPort;
}

export class CapsuleManager {
  readonly store: CapsuleStore;
  readonly registry: CapsuleRegistry;
  readonly pauser: PauseController;
  /** Watches every running capsule's envd (absent without an envd guard). */
  readonly envdSupervisor: EnvdSupervisor | undefined;
  readonly snapshotTemplates: SnapshotTemplates;
  private readonly kit: CapsuleKit;
  private readonly warm: WarmCapsules;
  private readonly egressResolver: EgressResolverPort | undefined;

  constructor(deps: ManagerDeps) {
    this.store = new CapsuleStore(deps.settings.dataDir);
    this.registry = new CapsuleRegistry(this.store);
    const supervisor = deps.envdGuard
      ? new EnvdSupervisor({
          runtime: deps.runtime,
          guard: deps.envdGuard,
          logger: deps.logger.child({ component: 'envd-supervisor' }),
          // In the capsule's queue, after whatever runs on it now; skipped when that changed
          // the capsule (paused, destroyed, restarted: the handle is no longer current).
          lost: (capsule, guarded, reason) =>
            void this.registry
              .run(capsule.record.id, async () => {
                const live = this.registry.find(capsule.record.id);
                if (live !== capsule || !supervisor!.isCurrent(live, guarded)) return;
                await restartCapsule(this.kit, live, reason);
              })
              .catch((err: unknown) => deps.logger.error({ capsuleId: capsule.record.id, err: (err as Error).message }, 'envd restart failed')),
        })
      : undefined;
    this.envdSupervisor = supervisor;
    const watchers = new CapsuleWatchers({
      runtime: deps.runtime,
      rootfs: deps.rootfs,
      capsuleDir: (runtimeId) => this.store.dirOf(runtimeId),
      logger: deps.logger,
      expire: (id) => this.destroy(id),
      autoPause: async (id: string) => void (await this.pause(id)),
      ...(supervisor ? { envd: supervisor } : {}),
    });
    this.kit = { ...deps, registry: this.registry, watchers };
    this.pauser = new PauseController({ ...this.kit, logger: deps.logger.child({ component: 'pause' }) });
    this.snapshotTemplates = new SnapshotTemplates({ ...this.kit, logger: deps.logger.child({ component: 'snapshot-templates' }) });
    this.warm = new WarmCapsules(this.kit, this.pauser);
    this.egressResolver = deps.egressResolver;
  }

  // ---- queries ----------------------------------------------------------------------

  get(id: string): CapsuleRecord {
    return this.registry.get(id).record;
  }

  list(): CapsuleRecord[] {
    return this.registry.records();
  }

  /** The envd client of a running capsule; counts as activity. */
  envdOf(id: string, operation: string): EnvdClient {
    const live = this.registry.get(id);
    assertRunning(live.record, operation);
    live.lastActivityMs = Date.now();
    return live.envd!;
  }

  /** Where proxied traffic to a running capsule goes; counts as activity. */
  proxyTarget(id: string): { address: string } {
    const live = this.registry.get(id);
    assertRunning(live.record, 'proxy traffic to');
    live.lastActivityMs = Date.now();
    return { address: live.record.address };
  }

  /** Activity that is not a call (proxied bytes flowing): delays auto-pause. */
  touch(id: string): void {
    const live = this.registry.find(id);
    if (live) live.lastActivityMs = Date.now();
  }

  /** Pre-started capsules waiting in the warm pool. */
  warmCapsules(): CapsuleRecord[] {
    return this.registry
      .all()
      .map((c) => c.record)
      .filter((r) => r.status === 'warm');
  }

  lastActivity(id: string): number {
    return this.registry.find(id)?.lastActivityMs ?? 0;
  }

  metrics(id: string, range: MetricsRange): MetricSample[] {
    return this.registry.get(id).sampler?.history.query(range) ?? [];
  }

  // ---- lifecycle --------------------------------------------------------------------

  async create(request: CreateCapsuleRequest, signal?: AbortSignal): Promise<CapsuleRecord> {
    validateCapsuleId(request.capsuleId);
    const rules = checkedEgressRules({ denyOut: request.denyOut ?? [], allowOut: request.allowOut ?? [] });
    const spec = createSpec({ ...request, ...rules, egressResolved: await this.resolveNames(rules) });
    const parts = { kit: this.kit, pauser: this.pauser, snapshotTemplates: this.snapshotTemplates, warm: this.warm };
    return this.registry.run(spec.capsuleId, () => createCapsule(parts, spec, signal));
  }

  /**
   * Replaces what a capsule may reach: a running one at once (established connections
   * included), a paused one from its resume on. Persisted in its record.
   */
  async setEgress(id: string, egress: boolean, lists: EgressRules): Promise<CapsuleRecord> {
    const rules = checkedEgressRules(lists);
    const resolved = await this.resolveNames(rules);
    return this.registry.run(id, async () => {
      const live = this.registry.get(id);
      const { record } = live;
      if (record.status !== 'running' && record.status !== 'paused') throw busy(record, 'change the egress of');
      const next = { ...record, egress, egressRules: rules, egressResolved: resolved };
      if (record.status === 'running') await this.kit.network.setEgressPolicy(this.kit.network.slot(record.netSlot), plumbOptions(this.kit, next));
      record.egress = egress;
      record.egressRules = rules;
      record.egressResolved = resolved;
      await this.registry.save(record);
      return record;
    });
  }

  /**
   * Resolves the allow-list names of every running capsule again and applies what changed
   * (run periodically by the agent). Failures are logged per capsule, never thrown.
   */
  async refreshEgressDomains(): Promise<void> {
    for (const record of this.registry.records()) {
      const names = record.egressRules ? domainsOf(record.egressRules) : [];
      if (names.length === 0 || record.status !== 'running') continue;
      const resolved = await this.resolveNames(record.egressRules!).catch(() => undefined);
      if (!resolved || sameList(resolved, record.egressResolved ?? [])) continue;
      await this.registry
        .run(record.id, async () => {
          if (record.status !== 'running') return;
          await this.kit.network.setEgressPolicy(this.kit.network.slot(record.netSlot), plumbOptions(this.kit, { ...record, egressResolved: resolved }));
          record.egressResolved = resolved;
          await this.registry.save(record);
          this.kit.logger.info({ capsuleId: record.id, addresses: resolved.length }, 'egress allow-list names resolved to new addresses');
        })
        .catch((err: unknown) => this.kit.logger.warn({ capsuleId: record.id, err: (err as Error).message }, 'could not refresh egress allow-list names'));
    }
  }

  private async resolveNames(rules: EgressRules): Promise<string[]> {
    const names = domainsOf(rules);
    if (names.length === 0) return [];
    if (!this.egressResolver) throw new WrennError('invalid_argument', 'allow_out: domain names are not supported by this host');
    return this.egressResolver.resolve(names);
  }

  async destroy(id: string): Promise<void> {
    return this.registry.run(id, async () => {
      const live = this.registry.find(id);
      if (!live) throw new WrennError('capsule_not_found', `capsule ${id} does not exist on this host`, { capsuleId: id });
      await destroyCapsule(this.kit, this.pauser, live);
    });
  }

  /**
   * Snapshot and release a running capsule (see domain/pause). Pausing a paused capsule
   * returns it unchanged; any other state is capsule_busy.
   */
  async pause(id: string, kind?: PauseKind, signal?: AbortSignal): Promise<CapsuleRecord> {
    return this.registry.run(id, async () => {
      const live = this.registry.get(id);
      const { record } = live;
      if (record.status === 'paused' && (kind === undefined || kind === record.pauseKind)) return record;
      assertRunning(record, 'pause');
      await this.pauser.pause(live, kind, signal);
      return record;
    });
  }

  /** Bring a paused capsule back; resuming a running capsule returns it unchanged. */
  async resume(id: string, signal?: AbortSignal): Promise<CapsuleRecord> {
    return this.registry.run(id, async () => {
      const live = this.registry.get(id);
      const { record } = live;
      if (record.status === 'running') return record;
      if (record.status !== 'paused') throw busy(record, 'resume');
      await this.pauser.resume(live, signal);
      live.lastActivityMs = Date.now();
      return record;
    });
  }

  /**
   * Saves a running capsule, memory included, as snapshot template `name` (generated when
   * empty); the capsule keeps running. Other operations on it meanwhile get capsule_busy.
   */
  async snapshot(id: string, name: string | undefined, opts: { overwrite?: boolean; signal?: AbortSignal } = {}): Promise<SnapshotTemplateInfo> {
    if (!this.pauser.support.memory) {
      throw new WrennError('failed_precondition', 'this host cannot take memory snapshots (criu check fails), so it cannot make snapshot templates');
    }
    return this.registry.run(id, async () => {
      const live = this.registry.get(id);
      const { record } = live;
      assertRunning(record, 'snapshot');
      if (record.volumes?.length) {
        throw new WrennError('failed_precondition', `capsule ${id} has volumes mounted: a snapshot template of it would share them with every capsule made from it, so it cannot be taken`, { capsuleId: id });
      }
      // A lazy restore still loading this capsule's memory: the dump must see all of it.
      await this.pauser.settledFor(record.runtimeId);
      this.registry.transition(live, 'running', 'snapshotting');
      await this.registry.save(record);
      try {
        const signal = opts.signal ?? AbortSignal.timeout(DEFAULT_PAUSE_TIMEOUT_MS);
        return await this.snapshotTemplates.take(live, name || SnapshotTemplates.generatedName(id), { overwrite: opts.overwrite ?? false }, this.pauser.snapshots, signal);
      } finally {
        live.lastActivityMs = Date.now();
        // Still snapshotting: the snapshot ended without reviving or failing the capsule.
        if (record.status === 'snapshotting') {
          this.registry.transition(live, 'snapshotting', 'running');
          await this.registry.save(record);
        }
      }
    });
  }

  /** Base templates and snapshot templates of this host. */
  async listTemplates(): Promise<ListedTemplate[]> {
    const [base, snapshots] = await Promise.all([this.kit.templates.list(), this.snapshotTemplates.list()]);
    return [...base.map(listedBase), ...snapshots.map(listedSnapshot)];
  }

  /** Deletes a snapshot template (base templates are not deleted through the agent's API). */
  async deleteTemplate(name: string): Promise<void> {
    if (await this.snapshotTemplates.find(name)) return this.snapshotTemplates.delete(name);
    await this.kit.templates.get(name);
    throw new WrennError('failed_precondition', `${name} is a base template; DeleteTemplate deletes snapshot templates only`, { template: name });
  }

  /** After an agent (re)start: adopts what still runs, settles what was interrupted, releases what died. */
  recover(): Promise<Recovered> {
    return recoverCapsules(this.kit, this.pauser, this.snapshotTemplates);
  }

  /** Starts keeping `targets` warm capsules per template (WRENN_WARM_POOL). */
  enableWarmPool(targets: Record<string, number>): void {
    this.warm.enable(targets);
  }

  /** Stops timers and connections; capsules keep running (a restarted agent adopts them). */
  close(): void {
    this.warm.stop();
    for (const live of this.registry.all()) {
      this.kit.watchers.stop(live);
      live.envd?.close();
    }
  }

  /** Destroys every capsule (tests and `wrenn-agent --destroy-all`). */
  async destroyAll(): Promise<void> {
    this.warm.stop();
    await Promise.allSettled(this.registry.all().map((c) => this.destroy(c.record.id)));
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * What watches a running capsule: its metrics sampler, its envd (protected from the OOM
 * killer and restarted when it dies, see capsules/envd-supervisor.ts), its lifetime timer (destroy when
 * `expiresAtMs` passes) and its idle check (auto-pause after `autoPauseSec` without
 * activity). Started whenever a capsule runs (create, claim, resume, adoption), stopped
 * before anything takes it out of `running`. Each timer is owned by the capsule it
 * watches and unref'd: a watcher never keeps the agent alive.
 */
import type { Logger } from '@wrenn/shared';
import type { Runtime } from '../infra/runtime/runtime.js';
import type { CapsuleRecord } from './capsule-record.js';
import { MetricsSampler } from './metrics/sampler.js';
import type { RootfsPort } from './ports.js';

export interface WatchedCapsule {
  record: CapsuleRecord;
  sampler?: MetricsSampler;
  ttl?: NodeJS.Timeout;
  /** Checks for inactivity (auto-pause). */
  idleCheck?: NodeJS.Timeout;
  /** Last exec, ping, file or terminal traffic, proxied request (see CapsuleManager.envdOf). */
  lastActivityMs: number;
}

export interface WatcherDeps {
  runtime: Pick<Runtime, 'stats'>;
  rootfs: Pick<RootfsPort, 'usage'>;
  capsuleDir(runtimeId: string): string;
  logger: Logger;
  /** The capsule's lifetime is over. */
  expire(id: string): Promise<void>;
  /** The capsule was idle for its autoPauseSec; absent: this agent cannot pause. */
  autoPause?: (id: string) => Promise<void>;
  /** Protects and watches envd (capsules/envd-supervisor.ts); absent: no supervision (unit tests). */
  envd?: { watch(live: WatchedCapsule): void; unwatch(live: WatchedCapsule): void };
}

/** The longest delay setTimeout takes (~24.8 days); a longer lifetime re-arms its timer. */
const MAX_TIMER_MS = 2 ** 31 - 1;

export class CapsuleWatchers {
  constructor(private readonly deps: WatcherDeps) {}

  start(live: WatchedCapsule): void {
    const { record } = live;
    const { runtime, rootfs } = this.deps;
    const dir = this.deps.capsuleDir(record.runtimeId);
    live.sampler?.stop();
    live.sampler = new MetricsSampler(
      {
        cpuAndMemory: async () => {
          const s = await runtime.stats(record.runtimeId);
          return { cpuUsageNs: s.cpuUsageNs, memoryUsedBytes: s.memoryUsedBytes, memoryLimitBytes: s.memoryLimitBytes };
        },
        disk: () => rootfs.usage(dir),
      },
      record.vcpus,
      this.deps.logger.child({ capsuleId: record.id }),
    );
    live.sampler.start();
    this.deps.envd?.watch(live);
    this.armLifetime(live);
    this.startIdleCheck(live);
  }

  stop(live: WatchedCapsule): void {
    live.sampler?.stop();
    this.deps.envd?.unwatch(live);
    if (live.ttl) clearTimeout(live.ttl);
    live.ttl = undefined;
    if (live.idleCheck) clearInterval(live.idleCheck);
    live.idleCheck = undefined;
  }

  /** Destroys the capsule once `expiresAtMs` has passed (0: no lifetime). */
  private armLifetime(live: WatchedCapsule): void {
    const { record } = live;
    if (live.ttl) clearTimeout(live.ttl);
    live.ttl = undefined;
    if (record.expiresAtMs <= 0) return;
    const delay = Math.max(0, record.expiresAtMs - Date.now());
    live.ttl = setTimeout(() => {
      if (Date.now() < record.expiresAtMs) return this.armLifetime(live);
      this.deps.logger.info({ capsuleId: record.id }, 'capsule lifetime ended; destroying');
      void this.deps.expire(record.id).catch((err: unknown) =>
        this.deps.logger.error({ capsuleId: record.id, err: (err as Error).message }, 'destroy at end of lifetime failed'),
      );
    }, Math.min(delay, MAX_TIMER_MS));
    live.ttl.unref();
  }

  /** Auto-pause: a running capsule idle for `autoPauseSec` is paused. */
  private startIdleCheck(live: WatchedCapsule): void {
    if (live.idleCheck) clearInterval(live.idleCheck);
    live.idleCheck = undefined;
    const idleMs = (live.record.autoPauseSec ?? 0) * 1000;
    const autoPause = this.deps.autoPause;
    if (idleMs <= 0 || !autoPause) return;
    live.idleCheck = setInterval(() => {
      if (live.record.status !== 'running' || Date.now() - live.lastActivityMs < idleMs) return;
      clearInterval(live.idleCheck);
      live.idleCheck = undefined;
      const id = live.record.id;
      this.deps.logger.info({ capsuleId: id, idleMs: Date.now() - live.lastActivityMs }, 'capsule idle; auto-pausing');
      void autoPause(id).catch((err: unknown) => {
        this.deps.logger.warn({ capsuleId: id, err: (err as Error).message }, 'auto-pause failed');
        // Still running (the pause revived it): watch again.
        if (live.record.status === 'running') this.startIdleCheck(live);
      });
    }, Math.min(1000, Math.max(100, idleMs / 4)));
    live.idleCheck.unref();
  }
}

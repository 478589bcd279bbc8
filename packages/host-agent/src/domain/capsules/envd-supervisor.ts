/**
 * Watches the envd of every running capsule: protects it when the capsule starts running
 * (create, claim, resume, adoption: see CapsuleWatchers) and checks every `periodMs` that it
 * still runs. One timer for all capsules, one /proc read per capsule per check: cheap at
 * hundreds of idle capsules. A capsule whose envd is gone is handed to `lost` (which
 * restarts it, lifecycle/restart.ts) with the handle that died, so a capsule restarted or
 * paused meanwhile is not touched twice.
 */
import type { Logger } from '@wrenn/shared';
import type { Runtime } from '../../infra/runtime/runtime.js';
import type { CapsuleRecord } from '../capsule-record.js';
import type { EnvdGuardPort, GuardedEnvd } from '../ports.js';

export const ENVD_CHECK_PERIOD_MS = 2_000;

interface Watched {
  record: CapsuleRecord;
}

interface Entry {
  guarded?: GuardedEnvd;
  /** Handed to `lost` already: not checked again (the restart watches anew). */
  reported?: boolean;
}

export interface EnvdSupervisorDeps {
  runtime: Pick<Runtime, 'state'>;
  guard: EnvdGuardPort;
  logger: Logger;
  /** envd of this capsule is gone (`guarded` is the handle that died). */
  lost(capsule: Watched, guarded: GuardedEnvd, reason: string): void;
  periodMs?: number;
}

export class EnvdSupervisor {
  private readonly entries = new Map<Watched, Entry>();
  private timer: NodeJS.Timeout | undefined;
  private checking = false;
  /** Protections under way (watch does not wait for them). */
  private readonly protecting = new Set<Promise<void>>();

  constructor(private readonly deps: EnvdSupervisorDeps) {}

  /** Protects the capsule's envd, then watches it. */
  watch(capsule: Watched): void {
    const entry: Entry = {};
    this.entries.set(capsule, entry);
    this.ensureTimer();
    const p = this.protect(capsule, entry).finally(() => this.protecting.delete(p));
    this.protecting.add(p);
  }

  /** Resolves when no protection is under way (tests that count the agent's timers). */
  async settled(): Promise<void> {
    while (this.protecting.size > 0) await Promise.allSettled([...this.protecting]);
  }

  unwatch(capsule: Watched): void {
    this.entries.delete(capsule);
    if (this.entries.size === 0 && this.timer) {
      clearInterval(this.timer);
      this.timer = undefined;
    }
  }

  /** True when `guarded` is still the envd this supervisor watches for `capsule`. */
  isCurrent(capsule: Watched, guarded: GuardedEnvd): boolean {
    return this.entries.get(capsule)?.guarded === guarded;
  }

  /** Protects now and returns the handle (tests; the timer does the same). */
  async protectNow(capsule: Watched): Promise<GuardedEnvd | undefined> {
    const entry = this.entries.get(capsule);
    if (!entry) return undefined;
    await this.protect(capsule, entry);
    return entry.guarded;
  }

  private async protect(capsule: Watched, entry: Entry): Promise<void> {
    const { record } = capsule;
    const log = this.deps.logger.child({ capsuleId: record.id, runtimeId: record.runtimeId });
    try {
      const state = await this.deps.runtime.state(record.runtimeId);
      if (!state || state.pid <= 0) throw new Error(`its runtime is ${state ? state.status : 'gone'}`);
      const guarded = await this.deps.guard.protect(state.pid);
      // Unwatched (or watched again) meanwhile: this handle is stale.
      if (this.entries.get(capsule) !== entry) return;
      entry.guarded = guarded;
      log.debug({ envdPid: guarded.envdPid, oomScoreAdj: guarded.protectedScore ?? 'capsule default' }, 'envd watched');
    } catch (err) {
      if (this.entries.get(capsule) !== entry || record.status !== 'running') return;
      // No envd to protect: the capsule's init is gone. The check below cannot see that
      // (it has no handle), so report it now.
      log.warn({ err: (err as Error).message }, 'envd could not be protected');
      const gone: GuardedEnvd = { envdPid: 0 };
      entry.guarded = gone;
      entry.reported = true;
      this.deps.lost(capsule, gone, `envd could not be found to protect: ${(err as Error).message}`);
    }
  }

  private ensureTimer(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.check(), this.deps.periodMs ?? ENVD_CHECK_PERIOD_MS);
    this.timer.unref();
  }

  private async check(): Promise<void> {
    if (this.checking) return;
    this.checking = true;
    try {
      for (const [capsule, entry] of [...this.entries]) {
        const guarded = entry.guarded;
        if (!guarded || entry.reported || capsule.record.status !== 'running') continue;
        const alive = await this.deps.guard.alive(guarded).catch(() => true);
        if (alive || this.entries.get(capsule) !== entry) continue;
        entry.reported = true;
        this.deps.logger.warn({ capsuleId: capsule.record.id, envdPid: guarded.envdPid }, 'envd exited');
        this.deps.lost(capsule, guarded, `envd (pid ${guarded.envdPid}) exited`);
      }
    } finally {
      this.checking = false;
    }
  }
}

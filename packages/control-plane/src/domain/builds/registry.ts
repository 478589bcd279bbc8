/**
 * The builds this control plane runs, and the loop that starts them: pending builds are
 * placed (the base template's host if it lives on one, else the least-loaded host) and
 * claimed with a compare-and-set, so two replicas never run one build; at most
 * WRENN_BUILDS_PER_HOST run on a host at once, the rest wait as `pending`. A running build
 * whose runner stopped writing its heartbeat (its control plane died) is failed with the
 * reason and its capsule removed.
 */
import { sql } from 'kysely';
import { WrennError } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { BuildsInFlight } from './in-flight.js';
import type { Build } from '../../db/schema.js';
import { BuildRun } from './runner.js';
import type { BuildSpec } from './views.js';

/** A running build without a heartbeat for this long has lost its runner. */
export const BUILD_HEARTBEAT_STALE_MS = 60_000;

export class BuildRunners implements BuildsInFlight {
  private readonly running = new Map<string, { abort: AbortController; done: Promise<void> }>();
  private ticking: Promise<void> | undefined;
  private again = false;
  private stopped = true;

  /**
   * The context is read through a function: the runners are a member of that very context
   * (built with it in app.ts), and a build runs through the whole of it (capsules, agents).
   */
  constructor(private readonly context: () => ControlPlaneContext) {}

  private get ctx(): ControlPlaneContext {
    return this.context();
  }

  start(): void {
    this.stopped = false;
    this.wake();
  }

  /** Stops claiming builds; builds in flight are failed with the reason (their capsules go). */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const r of this.running.values()) r.abort.abort('the control plane is shutting down');
    await this.ticking;
    const runs = [...this.running.entries()];
    await Promise.all(runs.map(([, r]) => r.done));
    for (const [id] of runs) {
      await this.ctx.db
        .updateTable('builds')
        .set({ status: 'failed', error: 'the control plane running this build shut down', finished_at: sql`now()` as never, updated_at: sql`now()` as never })
        .where('id', '=', id)
        .where('status', '=', 'running')
        .execute()
        .catch(() => {});
    }
  }

  isRunning(id: string): boolean {
    return this.running.has(id);
  }

  cancel(id: string): void {
    this.running.get(id)?.abort.abort('the build was cancelled');
  }

  /** Runs a pass now (or right after the one in flight). */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    this.ticking = this.tick()
      .catch((err: unknown) => this.ctx.logger.error({ err: (err as Error).message }, 'build pass failed'))
      .finally(() => {
        this.ticking = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async tick(): Promise<void> {
    await this.sweepStale();
    const pending = await this.ctx.db.selectFrom('builds').selectAll().where('status', '=', 'pending').orderBy('created_at').limit(20).execute();
    if (pending.length === 0) return;
    const perHost = new Map<string, number>();
    for (const r of await this.ctx.db.selectFrom('builds').select(['host_id']).select((e) => e.fn.countAll<string>().as('n')).where('status', '=', 'running').groupBy('host_id').execute()) {
      if (r.host_id) perHost.set(r.host_id, Number(r.n));
    }
    for (const b of pending) {
      if (this.stopped) return;
      const spec = b.spec as BuildSpec;
      let hostId: string;
      try {
        const { host } = await this.ctx.scheduler.place({
          vcpus: spec.vcpus,
          memoryMb: spec.memory_mb,
          diskSizeMb: 0,
          template: { name: b.base_template, teamId: b.team_id ?? '' },
          // A BYOC host builds only for its own team (a platform build never runs on one).
          ...(b.team_id ? { teamId: b.team_id } : {}),
        });
        hostId = host.id;
      } catch (err) {
        if (err instanceof WrennError && err.code === 'template_not_found') await this.failPending(b, err.message);
        else {
          const closed = await this.noHostOpenTo(b);
          if (closed) await this.failPending(b, closed);
        }
        continue; // no room now: stays pending
      }
      if ((perHost.get(hostId) ?? 0) >= this.ctx.config.buildsPerHost) continue;
      const claimed = await this.ctx.db
        .updateTable('builds')
        .set({ status: 'running', host_id: hostId, started_at: sql`now()` as never, heartbeat_at: sql`now()` as never, updated_at: sql`now()` as never })
        .where('id', '=', b.id)
        .where('status', '=', 'pending')
        .returningAll()
        .executeTakeFirst();
      if (!claimed) continue;
      perHost.set(hostId, (perHost.get(hostId) ?? 0) + 1);
      this.launch(claimed);
    }
  }

  private launch(build: Build): void {
    const abort = new AbortController();
    const host = this.ctx.db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token']).where('id', '=', build.host_id!).executeTakeFirstOrThrow();
    const done = host
      .then((h) => new BuildRun(this.ctx, build, this.ctx.agents.get(h.id, h.agent_url, h.agent_token), abort.signal, (reason) => abort.abort(reason)).run())
      .catch((err: unknown) => this.ctx.logger.error({ buildId: build.id, err: (err as Error).message }, 'build runner failed'))
      .finally(() => {
        this.running.delete(build.id);
        this.wake(); // a slot on the host is free
      });
    this.running.set(build.id, { abort, done });
  }

  /**
   * Why no host can ever take this build (as opposed to none having room now): every host
   * is another team's BYOC host, or the base template lives on one. Undefined otherwise.
   */
  private async noHostOpenTo(b: Build): Promise<string | undefined> {
    const hosts = await this.ctx.db.selectFrom('hosts').select(['id', 'type', 'team_id']).execute();
    const open = (h: { type: string; team_id: string | null }) => h.type !== 'byoc' || (b.team_id !== null && h.team_id === b.team_id);
    if (hosts.length > 0 && !hosts.some(open)) return 'no host can run this build: the only hosts registered are BYOC hosts of another team, which build only for their own team';
    const holder = await this.ctx.db
      .selectFrom('templates')
      .innerJoin('hosts', 'hosts.id', 'templates.host_id')
      .select(['hosts.type', 'hosts.team_id'])
      .where('templates.name', '=', b.base_template)
      .where((eb) => (b.team_id ? eb.or([eb('templates.team_id', '=', b.team_id), eb('templates.team_id', 'is', null)]) : eb('templates.team_id', 'is', null)))
      .executeTakeFirst();
    if (holder && !open(holder)) return `no host can run this build: its base template ${b.base_template} lives on a BYOC host of another team`;
    return undefined;
  }

  private async failPending(b: Build, reason: string): Promise<void> {
    await this.ctx.db
      .updateTable('builds')
      .set({ status: 'failed', error: reason, finished_at: sql`now()` as never, updated_at: sql`now()` as never })
      .where('id', '=', b.id)
      .where('status', '=', 'pending')
      .execute();
    await this.ctx.db.deleteFrom('build_contexts').where('build_id', '=', b.id).execute();
  }

  private async sweepStale(): Promise<void> {
    const cutoff = new Date(Date.now() - BUILD_HEARTBEAT_STALE_MS);
    const stale = await this.ctx.db.selectFrom('builds').selectAll().where('status', '=', 'running').where('heartbeat_at', '<', cutoff).execute();
    for (const b of stale) {
      if (this.running.has(b.id)) continue;
      const failed = await this.ctx.db
        .updateTable('builds')
        .set({ status: 'failed', error: `the control plane running this build stopped (no progress recorded for ${BUILD_HEARTBEAT_STALE_MS / 1000} s)`, finished_at: sql`now()` as never, updated_at: sql`now()` as never })
        .where('id', '=', b.id)
        .where('status', '=', 'running')
        .returning('id')
        .executeTakeFirst();
      if (!failed) continue;
      await this.ctx.db.deleteFrom('build_contexts').where('build_id', '=', b.id).execute();
      const h = b.host_id ? await this.ctx.db.selectFrom('hosts').select(['id', 'agent_url', 'agent_token']).where('id', '=', b.host_id).executeTakeFirst() : undefined;
      if (h && b.capsule_id) await this.ctx.agents.get(h.id, h.agent_url, h.agent_token).destroy({ capsuleId: b.capsule_id }, { timeoutMs: 30_000 }).catch(() => {});
      this.ctx.logger.warn({ buildId: b.id }, 'template build failed: its runner stopped');
    }
  }
}

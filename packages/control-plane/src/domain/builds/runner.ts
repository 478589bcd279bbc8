/**
 * Runs one claimed build: a build capsule on the build's host, the steps in order (each
 * with its own timeout, exit code, capped output and duration, written to the row as it
 * goes so polling and the event stream see it live), `sync`, then the result: flattened
 * into a base template, or (START steps or a healthcheck) a snapshot template with the
 * processes running once the healthcheck passes. The capsule is destroyed on every path.
 *
 * Cancel aborts the signal: the running step's stream ends at once and the capsule goes.
 * A status changed under the runner (cancelled through another replica) is noticed at the
 * next flush. Every final write is a compare-and-set on `running`, so a cancel wins.
 */
import { sql } from 'kysely';
import { Code, ConnectError } from '@connectrpc/connect';
import { WrennError, type Logger } from '@wrenn/shared';
import type { ControlPlaneContext } from '../../context.js';
import type { Build } from '../../db/schema.js';
import type { AgentClient } from '../../infra/agent-pool.js';
import { readContextArchive, type BuildContextFiles } from './context-archive.js';
import { planBuild, resultType } from './plan.js';
import { StepExecutor, type BuildState, type StepIo } from './step-exec.js';
import type { BuildLogEntry, BuildSpec } from './views.js';

/** Output kept per step and stream (the end is kept: that is where errors are). */
export const STEP_OUTPUT_CAP = 64 * 1024;
const FLUSH_MS = 500;
const HEALTHCHECK_TIMEOUT_MS = 120_000;

class CappedText {
  private chunks: Buffer[] = [];
  private bytes = 0;
  truncated = false;
  add(data: Uint8Array): void {
    this.chunks.push(Buffer.from(data));
    this.bytes += data.length;
    while (this.bytes > STEP_OUTPUT_CAP && this.chunks.length > 0) {
      const over = this.bytes - STEP_OUTPUT_CAP;
      const first = this.chunks[0]!;
      this.truncated = true;
      if (first.length <= over) {
        this.chunks.shift();
        this.bytes -= first.length;
      } else {
        this.chunks[0] = first.subarray(over);
        this.bytes -= over;
      }
    }
  }
  toString(): string {
    return Buffer.concat(this.chunks).toString('utf8');
  }
}

/** The agent connection broke (restart, crash, network): not the step's own failure. */
function agentLost(err: unknown): boolean {
  // Agent calls fail with WrennErrors (decoded once at the client); a raw ConnectError can
  // still come from the transport itself.
  const code = err instanceof WrennError ? (err.connectCode as number) : err instanceof ConnectError ? err.code : undefined;
  return code !== undefined && [Code.Unavailable, Code.Unknown, Code.Aborted, Code.Internal, Code.Canceled].includes(code);
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class BuildRun {
  private readonly logs: BuildLogEntry[];
  private lastFlush = 0;
  private capsuleCreated = false;
  private capsuleGone = false;
  private finished = false;
  private flushing: Promise<void> = Promise.resolve();
  private readonly log: Logger;

  constructor(
    private readonly ctx: ControlPlaneContext,
    private readonly build: Build,
    private readonly agent: AgentClient,
    private readonly signal: AbortSignal,
    private readonly abort: (reason: string) => void,
  ) {
    this.logs = [];
    this.log = ctx.logger.child({ buildId: build.id, hostId: build.host_id, capsuleId: build.capsule_id });
  }

  /** Writes progress (and the heartbeat); notices a cancel made elsewhere. */
  private async flush(extra: { current_step?: number } = {}, force = false): Promise<void> {
    const now = Date.now();
    if (this.finished || (!force && now - this.lastFlush < FLUSH_MS)) return;
    this.lastFlush = now;
    const logs = JSON.stringify(this.logs);
    this.flushing = this.flushing.then(async () => {
      const row = await this.ctx.db
        .updateTable('builds')
        .set({ logs, heartbeat_at: sql`now()` as never, updated_at: sql`now()` as never, ...extra })
        .where('id', '=', this.build.id)
        .where('status', '=', 'running')
        .returning('id')
        .executeTakeFirst()
        .catch((err: unknown) => {
          this.log.warn({ err }, 'build progress not written');
          return null;
        });
      if (row === undefined && !this.finished) this.abort('the build was cancelled');
    });
    await this.flushing;
  }

  private async finish(status: 'success' | 'failed', fields: { error?: string; default_user?: string; default_env?: Record<string, string>; template_type?: 'base' | 'snapshot' }): Promise<boolean> {
    this.finished = true;
    // A build that has ended has no capsule left: gone before the status says so.
    await this.destroyCapsule();
    await this.flushing;
    const row = await this.ctx.db
      .updateTable('builds')
      .set({
        status,
        logs: JSON.stringify(this.logs),
        finished_at: sql`now()` as never,
        updated_at: sql`now()` as never,
        error: fields.error?.slice(0, 8000) ?? null,
        ...(fields.default_user !== undefined ? { default_user: fields.default_user } : {}),
        ...(fields.default_env ? { default_env: JSON.stringify(fields.default_env) } : {}),
        ...(fields.template_type ? { template_type: fields.template_type } : {}),
      })
      .where('id', '=', this.build.id)
      .where('status', '=', 'running')
      .returning('id')
      .executeTakeFirst();
    await this.ctx.db.deleteFrom('build_contexts').where('build_id', '=', this.build.id).execute().catch(() => {});
    return row !== undefined;
  }

  /** Runs one step with its log entry; true when it succeeded. */
  private async step(index: number, planned: { phase: string; cmd: string }, timeoutMs: number, body: (io: StepIo) => Promise<{ exit: number; timedOut?: boolean }>): Promise<BuildLogEntry> {
    const stdout = new CappedText();
    const stderr = new CappedText();
    const started = Date.now();
    const entry: BuildLogEntry = { step: index + 1, phase: planned.phase, cmd: planned.cmd, stdout: '', stderr: '', exit: -1, ok: false, elapsed_ms: 0, running: true };
    this.logs.push(entry);
    const sync = () => {
      entry.stdout = stdout.toString();
      entry.stderr = stderr.toString();
      entry.elapsed_ms = Date.now() - started;
      if (stdout.truncated || stderr.truncated) entry.truncated = true;
    };
    await this.flush({ current_step: index + 1 }, true);
    const io: StepIo = {
      signal: this.signal,
      timeoutMs,
      output: (stream, data) => {
        (stream === 'stdout' ? stdout : stderr).add(data);
        sync();
        void this.flush();
      },
    };
    try {
      const out = await body(io);
      entry.exit = out.exit;
      entry.ok = out.exit === 0 && !out.timedOut;
      if (out.timedOut) {
        entry.timed_out = true;
        stderr.add(Buffer.from(`\nstep timed out after ${timeoutMs} ms\n`));
      }
    } catch (err) {
      const why = agentLost(err) ? `lost the host agent during the step (it restarted or cannot be reached): ${message(err)}` : message(err);
      if (!this.signal.aborted) stderr.add(Buffer.from(`\n${why}\n`));
      entry.ok = false;
      if (this.signal.aborted) stderr.add(Buffer.from(`\nstopped: ${String(this.signal.reason ?? 'cancelled')}\n`));
      (entry as { error?: string }).error = why;
    } finally {
      delete entry.running;
      sync();
    }
    await this.flush({}, true);
    return entry;
  }

  async run(): Promise<void> {
    const b = this.build;
    const spec = b.spec as BuildSpec;
    const capsuleId = b.capsule_id!;
    const stepTimeoutMs = this.ctx.config.buildStepTimeoutSec * 1000;
    // The heartbeat, also through silent steps; it is also how a cancel made on another replica arrives.
    const heartbeat = setInterval(() => void this.flush({}, true), 1000);
    try {
      const plan = planBuild(spec.recipe, spec.skip_pre_post);
      const type = resultType(plan, spec.healthcheck);
      let context: BuildContextFiles | undefined;
      const archive = await this.ctx.db.selectFrom('build_contexts').select('data').where('build_id', '=', b.id).executeTakeFirst();
      if (archive) context = await readContextArchive(Buffer.from(archive.data));

      await this.agent.create(
        { capsuleId, template: b.base_template, vcpus: spec.vcpus, memoryMb: spec.memory_mb, diskSizeMb: 0, envs: {}, metadata: { 'wrenn.build': b.id }, lifetimeSec: 0, egress: true, defaultUser: 'root' },
        { signal: this.signal, timeoutMs: this.ctx.config.agentTimeoutMs },
      );
      this.capsuleCreated = true;
      const exec = new StepExecutor(this.agent, capsuleId, context);
      const state: BuildState = { user: 'root', home: '/root', workdir: '/', env: {}, baseEnv: {}, userSet: false, workdirSet: false };
      state.baseEnv = await exec.readBaseEnv('root', this.signal);

      for (const [i, planned] of plan.entries()) {
        const timeoutMs = planned.step.kind === 'run' && planned.step.timeoutMs ? planned.step.timeoutMs : stepTimeoutMs;
        const entry = await this.step(i, planned, timeoutMs, (io) => exec.run(planned, state, io));
        if (this.signal.aborted) return;
        if (!entry.ok) {
          const why = entry.timed_out ? `timed out after ${timeoutMs} ms` : (entry as { error?: string }).error ?? `exited with ${entry.exit}`;
          const output = entry.stderr.replace(why, '').replace(`step timed out after ${timeoutMs} ms`, '').trim().slice(-2000);
          await this.finish('failed', { error: `step ${i + 1} (${planned.cmd}) ${why}${output ? `: ${output}` : ''}` });
          return;
        }
      }

      const defaultUser = state.userSet ? state.user : '';
      let index = plan.length;
      // T2: nothing written by the steps may be lost to unflushed page cache.
      const synced = await this.step(index++, { phase: 'finalize', cmd: 'sync' }, 120_000, (io) => exec.check('sync', 'root', state, io));
      if (!synced.ok) return void (await this.finish('failed', { error: `sync failed: ${synced.stderr}` }));

      if (spec.healthcheck) {
        const hcUser = defaultUser || 'root';
        const deadline = Date.now() + HEALTHCHECK_TIMEOUT_MS;
        const hc = await this.step(index++, { phase: 'healthcheck', cmd: spec.healthcheck }, HEALTHCHECK_TIMEOUT_MS, async (io) => {
          for (;;) {
            const r = await exec.check(spec.healthcheck!, hcUser, state, { ...io, timeoutMs: 10_000 });
            if (r.exit === 0 && !r.timedOut) return r;
            if (Date.now() > deadline || this.signal.aborted) return { exit: r.exit, timedOut: true };
            await new Promise((res) => setTimeout(res, 1000));
          }
        });
        if (this.signal.aborted) return;
        if (!hc.ok) return void (await this.finish('failed', { error: `the healthcheck did not pass within ${HEALTHCHECK_TIMEOUT_MS / 1000} s: ${hc.stderr.trim().slice(-2000)}` }));
      }

      const result = await this.step(index++, { phase: 'finalize', cmd: type === 'snapshot' ? 'snapshot (memory + disk)' : 'flatten into a read-only template' }, this.ctx.config.agentTimeoutMs, async (io) => {
        const t =
          type === 'snapshot'
            ? (await this.agent.snapshot({ capsuleId, name: b.name }, { signal: io.signal, timeoutMs: this.ctx.config.agentTimeoutMs })).template
            : (
                await this.agent.flattenTemplate(
                  { capsuleId, name: b.name, defaultUser, defaultEnv: state.env, ...(state.workdirSet ? { defaultWorkdir: state.workdir } : {}) },
                  { signal: io.signal, timeoutMs: this.ctx.config.agentTimeoutMs },
                )
              ).template;
        if (!t) throw new WrennError('internal', 'the host did not describe the template it made');
        io.output('stdout', Buffer.from(`template ${t.name}: ${t.sizeBytes} bytes\n`));
        await this.ctx.db
          .insertInto('templates')
          .values({
            name: b.name,
            team_id: b.team_id,
            kind: type,
            host_id: b.host_id,
            size_bytes: String(t.sizeBytes),
            default_user: defaultUser || t.defaultUser || null,
            default_env: JSON.stringify(state.env),
            default_workdir: state.workdirSet ? state.workdir : null,
            vcpus: spec.vcpus,
            memory_mb: spec.memory_mb,
            build_id: b.id,
          })
          .execute();
        return { exit: 0 };
      });
      if (!result.ok) return void (await this.finish('failed', { error: `saving the template failed: ${(result as { error?: string }).error ?? result.stderr}` }));
      const stored = await this.finish('success', { default_user: defaultUser, default_env: state.env, template_type: type });
      if (!stored) await this.dropTemplate(type); // cancelled at the last moment: no template outlives its build
      this.log.info({ template: b.name, type }, 'template build succeeded');
    } catch (err) {
      if (this.signal.aborted) return;
      const reason = err instanceof WrennError && err.code === 'invalid_recipe' ? err.message : `${message(err)}`;
      this.log.warn({ err: reason }, 'template build failed');
      await this.finish('failed', { error: reason }).catch(() => {});
    } finally {
      clearInterval(heartbeat);
      if (this.signal.aborted) {
        // A cancelled build keeps the log of what ran, the stopped step included.
        await this.ctx.db.updateTable('builds').set({ logs: JSON.stringify(this.logs) }).where('id', '=', b.id).where('status', '=', 'cancelled').execute().catch(() => {});
        await this.ctx.db.deleteFrom('build_contexts').where('build_id', '=', b.id).execute().catch(() => {});
      }
      if (this.signal.aborted) this.capsuleCreated = true; // a create cut short may have left it
      await this.destroyCapsule();
    }
  }

  private async destroyCapsule(): Promise<void> {
    if (!this.capsuleCreated || this.capsuleGone) return;
    this.capsuleGone = true;
    await this.agent
      .destroy({ capsuleId: this.build.capsule_id! }, { timeoutMs: 60_000 })
      .catch((err: unknown) => this.log.warn({ err: message(err) }, 'build capsule not destroyed (the reconciler will)'));
  }

  private async dropTemplate(type: 'base' | 'snapshot'): Promise<void> {
    await this.ctx.db.deleteFrom('templates').where('build_id', '=', this.build.id).execute().catch(() => {});
    await (type === 'snapshot' ? this.agent.deleteTemplate({ name: this.build.name }) : this.agent.deleteBaseTemplate({ name: this.build.name })).catch(() => {});
  }
}

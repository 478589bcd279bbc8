/**
 * The registry of processes envd started: live ones by pid and by (unique) tag, and
 * recently exited ones, kept addressable for a while so a late Connect still gets the
 * end event (docs/decisions.md#e1). Owns every child: killAll() ends them all when envd closes.
 */
import { WrennError, type Logger } from '@wrenn/shared';
import type { EnvdContext } from '../core/context.js';
import type { UserInfo } from '../core/users.js';
import { prepareLaunch, type LaunchRequest } from './launch.js';
import { ManagedProcess } from './managed-process.js';
import type { Subscription } from './output-hub.js';

export type ProcessSelection =
  | { readonly case: 'pid'; readonly value: number }
  | { readonly case: 'tag'; readonly value: string }
  | { readonly case: undefined; readonly value?: undefined };

export interface StartRequest extends LaunchRequest {
  readonly tag?: string | undefined;
}

export interface RetentionOptions {
  /** How long an exited process stays addressable. */
  readonly exitedRetentionMs: number;
  /** How many exited processes are kept at most (the most recent ones). */
  readonly exitedRetentionMax: number;
}

const DEFAULT_RETENTION: RetentionOptions = { exitedRetentionMs: 60_000, exitedRetentionMax: 64 };
/** How long killAll waits for a killed process to be reaped. */
const KILL_WAIT_MS = 5_000;

export class ProcessManager {
  private readonly live = new Map<number, ManagedProcess>();
  private readonly liveTags = new Map<string, ManagedProcess>();
  /** Tags of Starts still being validated/spawned, so two concurrent Starts cannot share one. */
  private readonly reservedTags = new Set<string>();
  /** Exited processes in exit order (oldest first). */
  private readonly exited = new Map<number, ManagedProcess>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;
  private readonly retention: RetentionOptions;

  constructor(
    readonly ctx: EnvdContext,
    retention: Partial<RetentionOptions> = {},
  ) {
    this.logger = ctx.logger.child({ component: 'process' });
    this.retention = { ...DEFAULT_RETENTION, ...retention };
  }

  /**
   * Starts a process as `user` and attaches a first client to its output before any
   * output can be produced, so the Start stream misses nothing.
   */
  async start(req: StartRequest, user: UserInfo): Promise<{ proc: ManagedProcess; subscription: Subscription }> {
    const tag = req.tag;
    if (tag !== undefined) {
      const holder = this.liveTags.get(tag);
      if (holder || this.reservedTags.has(tag)) {
        throw new WrennError(
          'already_exists',
          `a process with tag ${JSON.stringify(tag)} is already running${holder ? ` (pid ${holder.pid})` : ''}; choose another tag`,
          { tag },
        );
      }
      this.reservedTags.add(tag);
    }
    try {
      const spec = await prepareLaunch(req, user, {
        capsuleEnv: this.ctx.state.envVars,
        defaultWorkdir: this.ctx.state.defaultWorkdir,
      });
      const proc = await ManagedProcess.launch(spec, {
        description: { cmd: req.cmd, args: [...req.args], envs: { ...req.envs }, cwd: spec.cwd },
        tag,
        user: user.name,
        backlogBytes: this.ctx.config.outputBufferBytes,
        logger: this.logger,
        onEnd: (p) => this.retire(p),
      });
      const subscription = proc.output.subscribe();
      if (proc.running) {
        // A pid still remembered from an exited process now belongs to this one.
        this.exited.delete(proc.pid);
        this.live.set(proc.pid, proc);
        if (tag !== undefined) this.liveTags.set(tag, proc);
      } else {
        this.retire(proc);
      }
      return { proc, subscription };
    } finally {
      if (tag !== undefined) this.reservedTags.delete(tag);
    }
  }

  /** Live processes, oldest first. */
  list(): ManagedProcess[] {
    return [...this.live.values()];
  }

  /** The process a selector names: a live one first, else a recently exited one. */
  find(selector: ProcessSelection | undefined): ManagedProcess {
    this.sweep();
    switch (selector?.case) {
      case 'pid': {
        const proc = this.live.get(selector.value) ?? this.exited.get(selector.value);
        if (proc) return proc;
        throw new WrennError('process_not_found', `process with pid ${selector.value} not found`, { pid: selector.value });
      }
      case 'tag': {
        const proc = this.liveTags.get(selector.value) ?? this.lastExitedWithTag(selector.value);
        if (proc) return proc;
        throw new WrennError('process_not_found', `process with tag ${JSON.stringify(selector.value)} not found`, {
          tag: selector.value,
        });
      }
      default:
        throw new WrennError('invalid_argument', 'process selector must give a pid or a tag');
    }
  }

  /** SIGKILLs every process group and waits until each process is reaped (envd close). */
  async killAll(): Promise<void> {
    const procs = this.list();
    await Promise.all(
      procs.map(async (proc) => {
        try {
          proc.signal('SIGKILL');
        } catch (err) {
          this.logger.warn({ pid: proc.pid, err }, 'could not kill process group');
        }
        // Unread output no longer matters, and an escaped grandchild holding the pipes
        // open must not keep us waiting.
        proc.child.release();
        if (!(await proc.waitEnded(KILL_WAIT_MS))) this.logger.warn({ pid: proc.pid }, 'process did not exit after SIGKILL');
      }),
    );
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    this.exited.clear();
  }

  private retire(proc: ManagedProcess): void {
    if (this.live.get(proc.pid) === proc) this.live.delete(proc.pid);
    if (proc.tag !== undefined && this.liveTags.get(proc.tag) === proc) this.liveTags.delete(proc.tag);
    this.exited.delete(proc.pid);
    this.exited.set(proc.pid, proc);
    this.sweep();
  }

  private lastExitedWithTag(tag: string): ManagedProcess | undefined {
    let found: ManagedProcess | undefined;
    for (const proc of this.exited.values()) if (proc.tag === tag) found = proc;
    return found;
  }

  /** Forgets exited processes past the retention limits; keeps one timer for the next expiry. */
  private sweep(): void {
    const now = Date.now();
    for (const [pid, proc] of this.exited) {
      const expired = now - (proc.exitedAt ?? now) >= this.retention.exitedRetentionMs;
      if (!expired && this.exited.size <= this.retention.exitedRetentionMax) break;
      this.exited.delete(pid);
    }
    clearTimeout(this.sweepTimer);
    this.sweepTimer = undefined;
    const oldest = this.exited.values().next().value;
    if (oldest) {
      const dueMs = Math.max(0, (oldest.exitedAt ?? now) + this.retention.exitedRetentionMs - now);
      this.sweepTimer = setTimeout(() => this.sweep(), dueMs + 10);
      // Remembering exited processes must not keep envd (or a test) alive on its own.
      this.sweepTimer.unref();
    }
  }
}

/**
 * One process envd started: its child (pipe or PTY), its output hub, what the client asked
 * for (config, tag) and how it ended. Operations that need a running process refuse, with
 * `process_not_found`, once it has exited.
 */
import { WrennError, type Logger } from '@wrenn/shared';
import type { ChildHandle, ChildSink, LaunchSpec } from './child.js';
import { endInfoOf, type ChildExit, type EndInfo } from './exit-status.js';
import { OutputHub } from './output-hub.js';
import { PipeChild } from './pipe-child.js';
import { PtyChild } from './pty-child.js';
import { spawnError } from './launch.js';

/** The process as the client described it (returned by List). */
export interface ProcessDescription {
  readonly cmd: string;
  readonly args: readonly string[];
  readonly envs: Record<string, string>;
  readonly cwd: string;
}

export interface LaunchOptions {
  readonly description: ProcessDescription;
  readonly tag: string | undefined;
  readonly user: string;
  readonly backlogBytes: number;
  readonly logger: Logger;
  /** Called once when the process has ended and its end event was published. */
  readonly onEnd: (proc: ManagedProcess) => void;
}

export type ProcessInputData = { readonly case: 'stdin' | 'pty'; readonly value: Uint8Array };

export class ManagedProcess {
  readonly startedAt = Date.now();
  exitedAt: number | undefined;
  private readonly endWaiters = new Set<() => void>();

  private constructor(
    readonly child: ChildHandle,
    readonly output: OutputHub,
    readonly description: ProcessDescription,
    readonly tag: string | undefined,
    private readonly logger: Logger,
    private readonly onEnd: (proc: ManagedProcess) => void,
  ) {}

  /** Spawns the child described by `spec`; rejects (naming the command) if it cannot run. */
  static async launch(spec: LaunchSpec, opts: LaunchOptions): Promise<ManagedProcess> {
    let proc: ManagedProcess | undefined;
    let earlyExit: ChildExit | undefined;
    // The hub pauses only while a client is attached, which needs `proc` to exist.
    const output = new OutputHub(opts.backlogBytes, { pause: () => proc?.child.pause(), resume: () => proc?.child.resume() });
    const sink: ChildSink = {
      output: (stream, data) => output.publish(stream, data),
      exit: (exit) => (proc ? proc.finish(exit) : (earlyExit = exit)),
    };
    let child: ChildHandle;
    if (spec.pty) {
      try {
        child = PtyChild.spawn(spec, sink);
      } catch (err) {
        throw spawnError(err, spec.cmd);
      }
    } else {
      child = await PipeChild.spawn(spec, sink);
    }
    const logger = opts.logger.child({ pid: child.pid, tag: opts.tag, user: opts.user });
    proc = new ManagedProcess(child, output, opts.description, opts.tag, logger, opts.onEnd);
    logger.info({ cmd: spec.cmd, args: spec.args, cwd: spec.cwd, pty: child.kind === 'pty' }, 'process started');
    if (earlyExit) proc.finish(earlyExit);
    return proc;
  }

  get pid(): number {
    return this.child.pid;
  }

  get end(): EndInfo | undefined {
    return this.output.end;
  }

  get running(): boolean {
    return this.output.end === undefined;
  }

  async sendInput(input: ProcessInputData, signal?: AbortSignal): Promise<void> {
    this.ensureRunning();
    if (input.case === 'pty' && this.child.kind !== 'pty') {
      throw new WrennError('failed_precondition', `process ${this.pid} has no PTY; send its input as stdin`, { pid: this.pid });
    }
    if (input.case === 'stdin' && this.child.kind === 'pty') {
      throw new WrennError('failed_precondition', `process ${this.pid} runs on a PTY; send its input as pty`, { pid: this.pid });
    }
    if (input.value.length === 0) return;
    await this.child.write(input.value, signal);
  }

  closeStdin(): void {
    this.ensureRunning();
    this.child.closeStdin();
  }

  resize(cols: number, rows: number): void {
    this.ensureRunning();
    if (cols < 1 || rows < 1) throw new WrennError('invalid_argument', `pty size must be at least 1x1, got ${cols}x${rows}`);
    this.child.resize(cols, rows);
  }

  signal(signal: NodeJS.Signals): void {
    this.ensureRunning();
    this.child.signalGroup(signal);
  }

  /** Resolves true once the process has ended, false if `timeoutMs` passes first. */
  waitEnded(timeoutMs: number): Promise<boolean> {
    if (!this.running) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.endWaiters.delete(done);
        resolve(!this.running);
      };
      const timer = setTimeout(done, timeoutMs);
      this.endWaiters.add(done);
    });
  }

  private finish(exit: ChildExit): void {
    if (!this.running) return;
    const end = endInfoOf(exit);
    this.exitedAt = Date.now();
    this.output.finish(end);
    this.logger.info(
      { exitCode: end.exitCode, status: end.status, durationMs: this.exitedAt - this.startedAt },
      'process exited',
    );
    for (const done of [...this.endWaiters]) done();
    this.onEnd(this);
  }

  private ensureRunning(): void {
    if (!this.running) {
      throw new WrennError('process_not_found', `process ${this.pid}${this.tag ? ` (tag ${JSON.stringify(this.tag)})` : ''} has already exited`, {
        pid: this.pid,
      });
    }
  }
}

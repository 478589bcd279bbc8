/**
 * A child on pipes (no PTY): stdout and stderr arrive separately, stdin is a pipe that
 * stays open for input unless the client asked for none. The child is spawned detached,
 * so it leads its own process group and a signal to the group reaches its children too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import { WrennError } from '@wrenn/shared';
import { credentialsFor, killGroup, type ChildHandle, type ChildSink, type LaunchSpec } from './child.js';
import { spawnError } from './launch.js';
import { spawning } from './oom-score.js';

export class PipeChild implements ChildHandle {
  readonly kind = 'pipe';

  private constructor(
    private readonly child: ChildProcess,
    readonly pid: number,
  ) {}

  /** Spawns the child; rejects with a WrennError naming the command when it cannot be executed. */
  static async spawn(spec: LaunchSpec, sink: ChildSink): Promise<PipeChild> {
    // Forked synchronously: the child starts killable by the OOM killer (oom-score.ts).
    const child = spawning(() =>
      spawn(spec.file, [...spec.args], {
        argv0: spec.cmd,
        cwd: spec.cwd,
        env: spec.env,
        ...credentialsFor(spec),
        detached: true,
        stdio: [spec.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      }),
    );
    if (child.pid === undefined) {
      // Node reports exec failures (ENOENT, EACCES) on the next tick, without a pid.
      const err = await new Promise<Error>((resolve) => child.once('error', resolve));
      throw spawnError(err, spec.cmd);
    }
    child.stdout?.on('data', (data: Buffer) => sink.output('stdout', data));
    child.stderr?.on('data', (data: Buffer) => sink.output('stderr', data));
    // A child that exits before reading its input makes our writes fail with EPIPE; the
    // input is simply lost, as it would be in a shell.
    child.stdin?.on('error', () => {});
    // 'error' after a successful spawn only comes from kill(); group kills do not use it.
    child.on('error', () => {});
    // 'close' (not 'exit') comes after the last output chunk, so the end event is last.
    child.once('close', (code, signal) => sink.exit({ code, signal }));
    return new PipeChild(child, child.pid);
  }

  async write(data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const stdin = this.openStdin();
    if (stdin.write(data)) return;
    await drained(stdin, signal);
  }

  closeStdin(): void {
    const stdin = this.child.stdin;
    if (stdin && !stdin.writableEnded) stdin.end();
  }

  resize(): void {
    throw new WrennError('failed_precondition', `process ${this.pid} has no PTY to resize; start it with a pty to resize it`, {
      pid: this.pid,
    });
  }

  pause(): void {
    this.child.stdout?.pause();
    this.child.stderr?.pause();
  }

  resume(): void {
    this.child.stdout?.resume();
    this.child.stderr?.resume();
  }

  signalGroup(signal: NodeJS.Signals): void {
    killGroup(this.pid, signal);
  }

  release(): void {
    this.child.stdin?.destroy();
    this.child.stdout?.destroy();
    this.child.stderr?.destroy();
  }

  private openStdin(): Writable {
    const stdin = this.child.stdin;
    if (!stdin) {
      throw new WrennError(
        'failed_precondition',
        `stdin of process ${this.pid} is not open: it was started with stdin disabled (set stdin: true to send input)`,
        { pid: this.pid },
      );
    }
    if (stdin.writableEnded || stdin.destroyed) {
      throw new WrennError('failed_precondition', `stdin of process ${this.pid} was already closed`, { pid: this.pid });
    }
    return stdin;
  }
}

/** Resolves when `stream` can take more data, is gone, or `signal` aborts. */
function drained(stream: Writable, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted || stream.destroyed) return resolve();
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      stream.off('error', done);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
    stream.on('error', done);
    signal?.addEventListener('abort', done, { once: true });
  });
}

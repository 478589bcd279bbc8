/**
 * Runs a standard Linux tool (runc, ip, nft, mount, mkfs, ...) with an argv array — never
 * through a shell — and kills and reaps it when the signal aborts or the timeout passes.
 * Tools that start helpers of their own (runc starts CRIU, CRIU starts more) run with
 * `processGroup`: the kill then reaches the whole group, so no orphaned helper lives on.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { WrennError } from '@wrenn/shared';

export interface RunOptions {
  signal?: AbortSignal;
  /** Kill the tool after this long (default: no limit; callers pass deadlines, H4). */
  timeoutMs?: number;
  /** Written to the tool's stdin, then stdin is closed. */
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Return a non-zero exit instead of throwing. */
  allowFailure?: boolean;
  /** Cap on captured stdout/stderr bytes each (default 16 MiB). */
  maxOutputBytes?: number;
  /** Sees output as it arrives (progress of long tools such as mmdebstrap); still captured. */
  onStdout?: (chunk: Buffer) => void;
  onStderr?: (chunk: Buffer) => void;
  /**
   * Start the tool as the leader of a process group of its own and, on abort or timeout,
   * SIGKILL the whole group (by its id, the tool's pid): helpers it started die with it.
   */
  processGroup?: boolean;
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export class ToolError extends WrennError {
  constructor(
    readonly tool: string,
    readonly args: readonly string[],
    readonly result: RunResult,
  ) {
    const why = result.signal ? `killed by ${result.signal}` : `exit code ${result.code}`;
    const detail = (result.stderr || result.stdout).trim().split('\n').slice(-5).join('\n');
    super('internal', `${tool} ${args.slice(0, 3).join(' ')} failed (${why})${detail ? `: ${detail}` : ''}`, {
      tool,
      code: result.code,
    });
  }
}

export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const max = opts.maxOutputBytes ?? 16 * 1024 * 1024;
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(new WrennError('canceled', `${cmd} not started: operation was cancelled`));
      return;
    }
    const child = spawn(cmd, args, {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: opts.env ?? process.env,
      cwd: opts.cwd,
      detached: opts.processGroup ?? false,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outLen = 0;
    let errLen = 0;
    child.stdout.on('data', (b: Buffer) => {
      opts.onStdout?.(b);
      if (outLen < max) out.push(b);
      outLen += b.length;
    });
    child.stderr.on('data', (b: Buffer) => {
      opts.onStderr?.(b);
      if (errLen < max) err.push(b);
      errLen += b.length;
    });
    let timedOut = false;
    const kill = () => killTool(child, opts.processGroup ?? false);
    const timer = opts.timeoutMs ? setTimeout(() => ((timedOut = true), kill()), opts.timeoutMs) : undefined;
    const onAbort = () => kill();
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      reject(
        (e as NodeJS.ErrnoException).code === 'ENOENT'
          ? new WrennError('failed_precondition', `${cmd} is not installed (not found in PATH)`, { tool: cmd })
          : e,
      );
    });
    child.on('close', (code, signal) => {
      if (timer) clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      const result: RunResult = {
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (opts.signal?.aborted) return reject(new WrennError('canceled', `${cmd} was cancelled`, { tool: cmd }));
      if (timedOut) return reject(new WrennError('deadline_exceeded', `${cmd} did not finish within ${opts.timeoutMs} ms`, { tool: cmd }));
      if (code !== 0 && !opts.allowFailure) return reject(new ToolError(cmd, args, result));
      resolve(result);
    });
    child.stdin.on('error', () => {}); // tool exited before reading its input
    child.stdin.end(opts.input);
  });
}

/**
 * SIGKILLs a spawned tool; with `group`, its whole process group (the group's id is the
 * tool's pid, see `processGroup`). A group already gone is not an error.
 */
export function killTool(child: ChildProcess, group: boolean): void {
  if (group && child.pid !== undefined) {
    try {
      process.kill(-child.pid, 'SIGKILL');
      return;
    } catch {
      // ESRCH: the group is empty; fall through for the (already reaped) leader.
    }
  }
  child.kill('SIGKILL');
}
